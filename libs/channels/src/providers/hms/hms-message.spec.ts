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

  it.each([
    ['a title-only message shows its title as the body too', { title: 'Your order shipped', body: '' }, { title: 'Your order shipped', body: 'Your order shipped' }],
    ['a body-only message shows its body as the title too', { title: '', body: 'Order 1234 is on its way' }, { title: 'Order 1234 is on its way', body: 'Order 1234 is on its way' }],
    ['a blank title counts as none', { title: '  ', body: 'Order 1234 is on its way' }, { title: 'Order 1234 is on its way', body: 'Order 1234 is on its way' }],
  ])('never sends Push Kit an empty title or body: %s', (_, text, shown) => {
    const android = hmsMessage(['t-1'], { ...content, ...text }, now)['android'] as Record<string, unknown>;
    expect(android['notification']).toMatchObject(shown);
  });
});
