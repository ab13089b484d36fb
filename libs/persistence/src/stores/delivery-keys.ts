import { timeOfId } from '../ids';
import { jsonRows, selectJsonRows } from './rows';

/** A delivery row's key: partitioned tables are addressed by id and creation time together. */
export interface DeliveryKey {
  id: string;
  createdAt: Date;
}

/**
 * Deliveries named by key, as a row source `k(id, created_at)` over the `$1` made by
 * `deliveryKeys`: `FROM ${DELIVERY_KEYS} JOIN deliveries d ON d.id = k.id AND d.created_at = k.created_at`.
 */
export const DELIVERY_KEYS = `(${selectJsonRows([
  ['id', 'uuid'],
  ['created_at', 'timestamptz'],
])}) AS k`;

/** The parameter for `DELIVERY_KEYS`. */
export function deliveryKeys(keys: DeliveryKey[]): string {
  return jsonRows(keys.map((k) => [k.id, k.createdAt]));
}

/**
 * The keys of deliveries named by id alone: a platform id carries its creation time (`newId`). An
 * id the platform did not make names no delivery and is left out, rather than failing the batch.
 */
export function keysOfIds(ids: string[]): DeliveryKey[] {
  const keys: DeliveryKey[] = [];
  for (const id of ids) {
    const createdAt = timeOfId(id);
    if (createdAt) keys.push({ id, createdAt });
  }
  return keys;
}
