import type { PushContent } from '../../ports';

/** Push Kit's `message` for a token list: a notification message, or a data message when silent. */
export function hmsMessage(tokens: string[], content: PushContent, now: number): Record<string, unknown> {
  const android: Record<string, unknown> = { urgency: content.priority === 'high' ? 'HIGH' : 'NORMAL' };
  if (content.collapseKey !== undefined) android['collapse_key'] = collapseKeyNumber(content.collapseKey);
  if (content.expiresAt !== undefined) android['ttl'] = `${Math.max(1, Math.floor((content.expiresAt.getTime() - now) / 1000))}s`;
  if (!content.silent) {
    android['notification'] = {
      title: content.title,
      body: content.body,
      // Type 3 opens the app, the only action that needs no app-specific intent.
      click_action: { type: 3 },
      ...(content.badge === undefined ? {} : { badge: { set_num: content.badge } }),
    };
  }
  return {
    token: tokens,
    android,
    ...(content.data === undefined ? {} : { data: JSON.stringify(content.data) }),
  };
}

/** Push Kit takes collapse keys as numbers from 0 to 100; a string key maps onto that range. */
function collapseKeyNumber(key: string): number {
  let hash = 0;
  for (const char of key) hash = (hash * 31 + char.charCodeAt(0)) % 101;
  return hash;
}
