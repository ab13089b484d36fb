import type { PushContent } from '../../ports';

/** FCM keeps a message for an offline device at most four weeks, and refuses a longer time to live. */
export const FCM_MAX_TTL_SECONDS = 2_419_200;

/** The HTTP v1 `message` for one token, with the Android and APNs overrides FCM forwards. */
export function fcmMessage(token: string, content: PushContent, now: number): Record<string, unknown> {
  // As APNs's 10: a notification shown at normal priority goes at once, not when a phone in Doze
  // next wakes (FCM's NORMAL). A silent one (nothing shown) stays NORMAL unless high: FCM demotes a
  // sender whose high-priority messages show nothing.
  const shownNow = content.priority === 'high' || (!content.silent && content.priority !== 'low');
  const android: Record<string, unknown> = { priority: shownNow ? 'HIGH' : 'NORMAL' };
  const apnsHeaders: Record<string, string> = { 'apns-priority': content.silent || content.priority === 'low' ? '5' : '10' };
  // Not Android's collapse_key: FCM keeps at most four collapse keys per device, so a key per message
  // lost all but four of an offline phone's messages. The notification's tag replaces a re-sent one.
  if (content.collapseKey !== undefined) apnsHeaders['apns-collapse-id'] = content.collapseKey;
  if (content.expiresAt !== undefined) {
    android['ttl'] = `${Math.min(FCM_MAX_TTL_SECONDS, Math.max(0, Math.floor((content.expiresAt.getTime() - now) / 1000)))}s`;
    apnsHeaders['apns-expiration'] = String(Math.floor(content.expiresAt.getTime() / 1000));
  }
  const aps: Record<string, unknown> = content.silent ? { 'content-available': 1 } : {};
  if (content.badge !== undefined) aps['badge'] = content.badge;
  if (content.sound !== undefined && !content.silent) aps['sound'] = content.sound;
  if (!content.silent && content.collapseKey !== undefined) android['notification'] = { tag: content.collapseKey };
  return {
    token,
    ...(content.silent ? {} : { notification: { title: content.title, body: content.body } }),
    ...(content.data === undefined ? {} : { data: content.data }),
    android,
    apns: { headers: apnsHeaders, payload: { aps } },
  };
}
