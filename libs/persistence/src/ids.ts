import { randomUUID } from 'node:crypto';
import { LATEST_STORABLE_MS } from '@notify/contracts';

/**
 * A UUID version 7: 48 bits of milliseconds since the epoch, then random bits. Rows of the
 * time-partitioned tables get ids whose time is their `created_at`, so a lookup by id alone
 * can name its partition (`created_at = timeOfId(id)`).
 *
 * Made from a random version 4 UUID (`xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx`, drawn from Node's
 * pooled entropy, so one id costs no system call) by writing the time over its first 48 bits and
 * 7 over its version digit; the variant and the other 74 random bits stay as they are.
 */
export function newId(at: Date): string {
  const ms = at.getTime();
  // A batch makes all its ids at one time: format that time once.
  if (ms !== lastMs) {
    const hex = ms.toString(16).padStart(12, '0');
    lastMs = ms;
    lastPrefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7`;
  }
  return lastPrefix + randomUUID().slice(15);
}
let lastMs = Number.NaN;
let lastPrefix = '';

/** The creation time carried by an id from `newId`; undefined for anything else. */
export function timeOfId(id: string): Date | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return undefined;
  const ms = Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
  // 48 bits of milliseconds reach the year 10889; past 9999 no row of ours can have been made.
  return ms <= LATEST_STORABLE_MS ? new Date(ms) : undefined;
}
