import type { PushContent } from '../../ports';
import { HMS_MAX_TTL_SECONDS, hmsMessage } from './hms-message';

const content: PushContent = { title: 'Your order shipped', body: 'Order 1234 is on its way' };
const now = Date.UTC(2024, 0, 1);

describe('hmsMessage', () => {
  it('keeps a message without an expiry for the 15 days Push Kit allows, not its default of one day', () => {
    const android = hmsMessage(['t-1'], content, now)['android'] as Record<string, unknown>;
    expect(HMS_MAX_TTL_SECONDS).toBe(1_296_000);
    expect(android['ttl']).toBe('1296000s');
  });

  it('keeps a message with an expiry until then', () => {
    const android = hmsMessage(['t-1'], { ...content, expiresAt: new Date(now + 3_600_000) }, now)['android'] as Record<string, unknown>;
    expect(android['ttl']).toBe('3600s');
  });
});
