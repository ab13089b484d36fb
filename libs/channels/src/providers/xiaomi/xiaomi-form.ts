import { createHash } from 'node:crypto';
import { shortened, type PushContent } from '../../ports';

/** Mi Push keeps a message for an offline device at most two weeks. */
export const XIAOMI_MAX_TTL_MS = 14 * 86_400_000;

/**
 * Mi Push refuses a title over 50 characters, a description over 128, and either one empty, and
 * refuses the whole call: the other vendors take 100 and 400 (`pushContentOf`). So the text is cut
 * to Xiaomi's lengths here, and an empty one stands in for by the other.
 */
export const XIAOMI_TITLE_CHARS = 50;
export const XIAOMI_DESCRIPTION_CHARS = 128;

/** The form fields of `/v3/message/regid` for a comma-separated list of regids. */
export function xiaomiForm(regids: string[], content: PushContent, packageName: string, now: number): URLSearchParams {
  const form = new URLSearchParams({
    registration_id: regids.join(','),
    restricted_package_name: packageName,
    // 0 shows a notification; 1 hands the payload to the running app only.
    pass_through: content.silent ? '1' : '0',
    title: shortened(content.title || content.body, XIAOMI_TITLE_CHARS),
    description: shortened(content.body || content.title, XIAOMI_DESCRIPTION_CHARS),
    payload: JSON.stringify(content.data ?? {}),
    notify_type: '-1',
  });
  if (content.expiresAt !== undefined) form.set('time_to_live', String(Math.min(XIAOMI_MAX_TTL_MS, Math.max(0, content.expiresAt.getTime() - now))));
  if (content.collapseKey !== undefined) form.set('notify_id', String(notifyId(content.collapseKey)));
  return form;
}

/**
 * Notifications with the same `notify_id` replace each other, so two messages must not share one:
 * 31 bits of the key's SHA-256 (a hash to a million made two of a phone's hundred pending
 * notifications collide about once in two hundred).
 */
export function notifyId(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) & 0x7fffffff;
}
