import { ClickLinks } from './click-links';

describe('ClickLinks', () => {
  const links = new ClickLinks('a-secret-of-at-least-thirty-two-chars', 'https://notify.example/');
  const deliveryId = '0190f3a2-7c4e-7b1a-9d2e-3f4a5b6c7d8e';

  it('makes a link under the base that names the delivery, and reads the delivery back from its token', () => {
    const link = new URL(links.link(deliveryId));
    expect(link.origin).toBe('https://notify.example');
    const token = link.pathname.replace('/c/', '');
    expect(links.deliveryOf(token)).toBe(deliveryId);
  });

  it('knows no token another secret signed, or one altered, or one that is not a token', () => {
    const token = new URL(links.link(deliveryId)).pathname.replace('/c/', '');
    const other = new ClickLinks('another-secret-of-at-least-32-chars!', 'https://notify.example');
    const [id, mac] = token.split('.');
    expect([
      other.deliveryOf(token),
      links.deliveryOf(`${id!.replace(/^0/, '1')}.${mac}`),
      links.deliveryOf(`${id}.${mac!.slice(0, -1)}`),
      links.deliveryOf(`${token}.extra`),
      links.deliveryOf('not-a-token'),
    ]).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('makes an unsubscribe link that names the user and the topic, which no click token passes for, nor it for one', () => {
    const link = new URL(links.unsubscribeLink('user-ü 1', 'promotions'));
    expect(link.origin).toBe('https://notify.example');
    const token = link.pathname.replace('/u/', '');
    expect(links.subscriptionOf(token)).toEqual({ userId: 'user-ü 1', topic: 'promotions' });
    const clickToken = new URL(links.link(deliveryId)).pathname.replace('/c/', '');
    const [payload, mac] = token.split('.');
    expect([
      links.subscriptionOf(clickToken),
      links.deliveryOf(token),
      new ClickLinks('another-secret-of-at-least-32-chars!', 'https://notify.example').subscriptionOf(token),
      links.subscriptionOf(`${Buffer.from(JSON.stringify(['user-2', 'promotions'])).toString('base64url')}.${mac}`),
      links.subscriptionOf(`${payload}.${mac!.slice(0, -1)}`),
      links.subscriptionOf(`${token}.extra`),
      links.subscriptionOf('not-a-token'),
    ]).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined]);
  });

  it('tracks nothing without a secret', () => {
    expect(ClickLinks.of({ clickBaseUrl: 'https://notify.example' })).toBeUndefined();
  });
});
