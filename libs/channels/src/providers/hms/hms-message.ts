import { unlessBlank, type PushContent } from '../../ports';

/** Push Kit keeps a message for an offline device at most 15 days. */
export const HMS_MAX_TTL_SECONDS = 1_296_000;

/**
 * The categories of Push Kit's self-classification of messages (`android.category`), which an app
 * may use once Huawei has granted it that right. Without one, EMUI 10 and later in China take a
 * notification for information and marketing: shown silently, a few a day per app and device, the
 * rest dropped.
 */
export const HMS_CATEGORIES = ['IM', 'VOIP', 'SUBSCRIPTION', 'TRAVEL', 'HEALTH', 'WORK', 'ACCOUNT', 'EXPRESS', 'FINANCE', 'DEVICE_REMINDER', 'MAIL', 'CUSTOMER_SERVICE', 'MARKETING'] as const;
export type HmsCategory = (typeof HMS_CATEGORIES)[number];

/** Push Kit's `message` for a token list: a notification message, or a data message when silent. */
export function hmsMessage(tokens: string[], content: PushContent, now: number, category?: HmsCategory): Record<string, unknown> {
  const android: Record<string, unknown> = { urgency: content.priority === 'high' ? 'HIGH' : 'NORMAL' };
  if (category !== undefined) android['category'] = category;
  // No collapse_key: in Push Kit it picks an offline cache group (1 to 100) of which only the latest
  // message is kept, so messages of different ids that fell in one group were lost. The
  // notification's tag replaces a re-sent one instead.
  // Without an expiry, Push Kit's default keeps a message for one day only: keep it for its maximum,
  // as the FCM and Mi Push adapters do.
  const ttlSeconds = content.expiresAt === undefined ? HMS_MAX_TTL_SECONDS : Math.min(HMS_MAX_TTL_SECONDS, Math.max(1, Math.floor((content.expiresAt.getTime() - now) / 1000)));
  android['ttl'] = `${ttlSeconds}s`;
  if (!content.silent) {
    android['notification'] = {
      // Push Kit needs both a title and a body in a notification message: one that has only one
      // shows it as both, as the Mi Push adapter does.
      title: unlessBlank(content.title, content.body),
      body: unlessBlank(content.body, content.title),
      // Type 3 opens the app, the only action that needs no app-specific intent.
      click_action: { type: 3 },
      ...(content.collapseKey === undefined ? {} : { tag: content.collapseKey }),
      ...(content.badge === undefined ? {} : { badge: { set_num: content.badge } }),
    };
  }
  return {
    token: tokens,
    android,
    ...(content.data === undefined ? {} : { data: JSON.stringify(content.data) }),
  };
}
