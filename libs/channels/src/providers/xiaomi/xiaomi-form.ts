import { createHash } from 'node:crypto';
import { shortened, unlessBlank, type PushContent } from '../../ports';

/** Mi Push keeps a message for an offline device at most two weeks. */
export const XIAOMI_MAX_TTL_MS = 14 * 86_400_000;

/**
 * Mi Push's title must be shorter than 50 characters and its description shorter than 128, and
 * neither may be empty or only white space ("长度小于50", "不允许全是空白字符"); it refuses the whole
 * call otherwise. The other vendors take 100 and 400 (`pushContentOf`). So the text is cut to
 * Xiaomi's lengths here, and a blank one is stood in for by the other.
 */
export const XIAOMI_TITLE_CHARS = 49;
export const XIAOMI_DESCRIPTION_CHARS = 127;

/** The receipts asked for (`extra.callback.type`, a sum of kinds): 1 delivered, 16 not a valid target. Clicks (2) are not delivery. */
export const XIAOMI_RECEIPT_TYPES = 1 + 16;

/** Mi Push takes a callback URL of at most this many bytes. */
export const XIAOMI_MAX_CALLBACK_BYTES = 128;

/** The form fields of `/v3/message/regid` for a comma-separated list of regids. */
export function xiaomiForm(regids: string[], content: PushContent, app: { packageName: string; channelId?: string; receiptUrl?: string }, now: number): URLSearchParams {
  const form = new URLSearchParams({
    registration_id: regids.join(','),
    restricted_package_name: app.packageName,
    // 0 shows a notification; 1 hands the payload to the running app only.
    pass_through: content.silent ? '1' : '0',
    title: shortened(unlessBlank(content.title, content.body), XIAOMI_TITLE_CHARS),
    description: shortened(unlessBlank(content.body, content.title), XIAOMI_DESCRIPTION_CHARS),
    payload: JSON.stringify(content.data ?? {}),
    notify_type: '-1',
  });
  if (app.channelId !== undefined) form.set('extra.channel_id', app.channelId);
  if (app.receiptUrl !== undefined) {
    form.set('extra.callback', app.receiptUrl);
    form.set('extra.callback.type', String(XIAOMI_RECEIPT_TYPES));
  }
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
