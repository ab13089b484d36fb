import { createHmac, timingSafeEqual } from 'node:crypto';

/** The callback user name and key set in AppGallery Connect's receipt settings. */
export interface HmsReceiptCallback {
  userName: string;
  key: string;
}

/**
 * How far a receipt's signing time may be from this host's clock. The signature covers the time,
 * a nonce and the user name, not the body, so a header seen once could be sent again with another
 * body: the window bounds how long that works.
 */
export const HMS_CALLBACK_WINDOW_MS = 15 * 60_000;

/** Push Kit's documents give the time in milliseconds, one version in seconds: a value below this is seconds. */
const SECONDS_BELOW = 100_000_000_000;

/**
 * Push Kit's receipt signature (`X-HUAWEI-CALLBACK-ID`):
 * `timestamp=<t>;nonce=<uuid>;value=<base64 HMAC-SHA256 under the callback key of t, nonce and the
 * callback user name, joined without separators>`.
 */
export function hmsCallbackId(callback: HmsReceiptCallback, timestamp: number, nonce: string): string {
  return `timestamp=${timestamp};nonce=${nonce};value=${hmsCallbackValue(callback, String(timestamp), nonce)}`;
}

/** Whether `header` is a signature under `callback`, made within the window of `now`; compared in constant time. */
export function hmsCallbackIdMatches(header: string | string[] | undefined, callback: HmsReceiptCallback, now: number): boolean {
  if (typeof header !== 'string') return false;
  const fields = fieldsOf(header);
  const timestamp = fields.get('timestamp');
  const nonce = fields.get('nonce');
  const value = fields.get('value');
  if (timestamp === undefined || nonce === undefined || value === undefined || !/^\d{1,16}$/.test(timestamp)) return false;
  const at = Number(timestamp) < SECONDS_BELOW ? Number(timestamp) * 1000 : Number(timestamp);
  if (Math.abs(now - at) > HMS_CALLBACK_WINDOW_MS) return false;
  const expected = Buffer.from(hmsCallbackValue(callback, timestamp, nonce));
  const given = Buffer.from(value);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function hmsCallbackValue({ userName, key }: HmsReceiptCallback, timestamp: string, nonce: string): string {
  return createHmac('sha256', key).update(timestamp + nonce + userName).digest('base64');
}

/** `name=value` pairs separated by `;` (spaces around them allowed); a value may itself hold `=` (base64 padding). */
function fieldsOf(header: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  return fields;
}
