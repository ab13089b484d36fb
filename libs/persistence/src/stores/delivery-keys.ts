import { timeOfId } from '../ids';
import { jsonRows, selectJsonRows } from './rows';

/** A delivery row's key: partitioned tables are addressed by id and creation time together. */
export interface DeliveryKey {
  id: string;
  createdAt: Date;
}

/**
 * Deliveries named by key, as a row source `k(id, created_at)` over the `$1` made by `deliveryKeys`:
 * `FROM ${DELIVERY_KEYS} JOIN deliveries d ON d.id = k.id AND d.created_at = k.created_at AND ${inKeysRange('d')}`.
 */
export const DELIVERY_KEYS = `(${selectJsonRows([
  ['id', 'uuid'],
  ['created_at', 'timestamptz'],
])}) AS k`;

/**
 * `table.created_at` within the earliest and latest creation time of the statement's keys, which
 * `deliveryKeys` and `outcomeRows` pass as `$2` and `$3`. Every partitioned table a statement reaches
 * through its keys gets this condition: the keys themselves are rows of a JSON parameter, invisible
 * to the planner, so without the range it planned, locked and probed every partition of the
 * retention period for each key. With it, an unnamed statement's plan keeps only the partitions in
 * range (measured in docs/benchmarks.md, "Writes by key").
 */
export function inKeysRange(table: string): string {
  return `${table}.created_at BETWEEN $2 AND $3`;
}

/** The parameters `$1` (for `DELIVERY_KEYS`), `$2` and `$3` (for `inKeysRange`) of a statement over these keys. */
export function deliveryKeys(keys: DeliveryKey[]): KeyedParams {
  return keyedParams(keys.map((k) => [k.id, k.createdAt]), keys.map((k) => k.createdAt));
}

/** `$1`–`$3` of a write by key: its rows as one JSON parameter, then the earliest and latest of their keys' times. */
export type KeyedParams = [rows: string, earliest: Date, latest: Date];

/** The parameters of a write by key from its rows (`jsonRows`) and the creation times of their keys. */
export function keyedParams(rows: readonly (readonly unknown[])[], times: Date[]): KeyedParams {
  return [jsonRows(rows), ...timeRange(times)];
}

/** The earliest and latest of some times; for none, a range that holds no row. */
function timeRange(times: Date[]): [earliest: Date, latest: Date] {
  let earliest = Number.POSITIVE_INFINITY;
  let latest = Number.NEGATIVE_INFINITY;
  for (const time of times) {
    const ms = time.getTime();
    if (ms < earliest) earliest = ms;
    if (ms > latest) latest = ms;
  }
  return times.length === 0 ? [new Date(0), new Date(-1)] : [new Date(earliest), new Date(latest)];
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
