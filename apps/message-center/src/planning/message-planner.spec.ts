import { ErrorCode, NotificationRequestSchema } from '@notify/contracts';
import type { ActiveDevice, PlannedDelivery, PlannedMessage, RecipientDirectory, RecipientProfile } from '@notify/persistence';
import { RouteTable } from '../routing/route-table';
import { MAX_RENDERED_BYTES, planMessage, TemplateRenderError } from './message-planner';

const NOW = new Date('2026-11-22T10:00:00.000Z');
const SECOND = 1_000;
const DAY = 86_400_000;

function at(msFromNow: number): Date {
  return new Date(NOW.getTime() + msFromNow);
}

const routes = RouteTable.from({
  version: 1,
  defaults: { locale: 'en', priority: 'normal', ttl: '7d' },
  routes: {
    'order.shipped': {
      channels: ['websocket', 'push', 'sms'],
      fallback: { policy: 'escalate', after: '60s' },
      priority: 'high',
      ttl: '2d',
      templates: {
        en: {
          title: 'Order {orderNo} shipped',
          body: '{count, plural, one {# parcel} other {# parcels}} with {carrier, select, sf {SF Express} other {a courier}}',
        },
        'zh-CN': { title: '订单 {orderNo} 已发货', body: '{count} 个包裹' },
      },
    },
    'order.no-delay': { channels: ['websocket', 'push', 'sms'], fallback: { policy: 'escalate' } },
    'order.echoed': { channels: ['websocket'], templates: { en: { title: '{note}', body: '{note} {note} {note} {note} {note} {note} {note} {note} {note} {note}' } } },
    'order.linked': { channels: ['websocket'], templates: { en: { title: 'Order {orderNo}', body: '', url: '{site}/orders/{orderNo}' } } },
    'security.alert': { channels: ['websocket', 'push', 'sms', 'email'], fallback: { policy: 'all' }, priority: 'high' },
    default: { channels: ['websocket', 'push'], fallback: { policy: 'escalate', after: '30s' } },
  },
});

function profile(userId: string, fields: Partial<RecipientProfile> = {}): [string, RecipientProfile] {
  return [userId, { userId, phone: null, email: null, locale: null, ...fields }];
}

function device(userId: string, deviceId: string, provider: ActiveDevice['provider'], locale: string | null = null): ActiveDevice {
  return { userId, deviceId, provider, locale };
}

/**
 * u-full: every endpoint, profile in zh-CN. u-bare: nothing known. u-phone: a phone only.
 * u-two: two devices in zh-TW and en-GB, no profile locale. u-tw: profile in zh-TW.
 * u-en: profile in en. u-fr: profile in fr (no template). u-mixed: profile in en, device in zh-CN.
 */
const directory: RecipientDirectory = {
  subscribers: new Map([
    ['promotions', ['u-full', 'u-en', 'u-tw']],
    ['quiet', []],
  ]),
  profiles: new Map([
    profile('u-full', { phone: '+8613800000001', email: 'full@example.com', locale: 'zh-CN' }),
    profile('u-phone', { phone: '+8613800000002' }),
    profile('u-two', { phone: '+8613800000003' }),
    profile('u-tw', { phone: '+8613800000004', locale: 'zh-TW' }),
    profile('u-en', { phone: '+8613800000005', locale: 'en' }),
    profile('u-fr', { phone: '+33600000006', locale: 'fr' }),
    profile('u-mixed', { phone: '+8613800000007', locale: 'en' }),
    profile('u-sibling', { phone: '+8613800000005', email: 'family@example.com' }),
    profile('u-parent', { email: 'family@example.com' }),
  ]),
  devices: new Map([
    ['u-full', [device('u-full', 'iphone', 'apns', 'zh-CN')]],
    ['u-two', [device('u-two', 'ipad-1', 'apns', 'zh-TW'), device('u-two', 'pixel', 'fcm', 'en-GB')]],
    ['u-tw', [device('u-tw', 'mi-9', 'xiaomi')]],
    ['u-en', [device('u-en', 'mate', 'hms')]],
    ['u-fr', [device('u-fr', 'iphone', 'apns')]],
    ['u-mixed', [device('u-mixed', 'iphone', 'apns', 'zh-CN')]],
  ]),
};

const SHIPPED_DATA = { orderNo: '1234', count: 2, carrier: 'sf' };

/** Plans a request (validated against the contract schema first) through the route of its type. */
function plan(fields: Record<string, unknown>): PlannedMessage {
  const request = NotificationRequestSchema.parse({ id: 'req-1', type: 'order.shipped', to: { userId: 'u-full' }, data: SHIPPED_DATA, ...fields });
  const route = routes.resolve(request.type);
  if (!route) throw new Error(`no route for ${request.type}`);
  let next = 0;
  return planMessage(request, route, { now: NOW, newId: () => `id-${++next}`, directory, retentionDays: 30 });
}

/** A delivery as the assertions compare it: everything but its id. */
function delivery(fields: Omit<PlannedDelivery, 'id'>): PlannedDelivery {
  return { id: expect.any(String) as unknown as string, ...fields };
}

function channelsOf(message: PlannedMessage): string[] {
  return message.deliveries.map((d) => `${d.channel} ${d.endpoint}`);
}

describe('planMessage', () => {
  describe('the escalate policy', () => {
    it('queues the first channel and holds each later one a further `after` behind', () => {
      const message = plan({});
      expect(message.deliveries).toEqual([
        delivery({ userId: 'u-full', channel: 'websocket', endpoint: 'inbox:u-full', locale: 'zh-CN', tier: 0, status: 'queued', lastError: null, nextAttemptAt: null }),
        delivery({ userId: 'u-full', channel: 'push', endpoint: 'apns:u-full/iphone', locale: 'zh-CN', tier: 1, status: 'held', lastError: null, nextAttemptAt: at(60 * SECOND) }),
        delivery({ userId: 'u-full', channel: 'sms', endpoint: '+8613800000001', locale: 'zh-CN', tier: 2, status: 'held', lastError: null, nextAttemptAt: at(120 * SECOND) }),
      ]);
      expect(message.inbox).toEqual([{ userId: 'u-full', locale: 'zh-CN' }]);
    });

    it('holds the later tiers with no release time when the route gives no `after`', () => {
      const message = plan({ type: 'order.no-delay', content: { title: 't', body: 'b' } });
      expect(message.deliveries.map((d) => [d.channel, d.tier, d.status, d.nextAttemptAt])).toEqual([
        ['websocket', 0, 'queued', null],
        ['push', 1, 'held', null],
        ['sms', 2, 'held', null],
      ]);
    });

    it('describes the message itself', () => {
      const message = plan({ id: 'order-1234-shipped' });
      expect(message).toMatchObject({
        requestId: 'order-1234-shipped',
        type: 'order.shipped',
        recipient: { userId: 'u-full' },
        data: SHIPPED_DATA,
        locale: null,
        priority: 'high',
        sendAt: null,
        createdAt: NOW,
      });
    });

    it('gives the message and every delivery its own id', () => {
      const message = plan({});
      const ids = [message.id, ...message.deliveries.map((d) => d.id)];
      expect(new Set(ids).size).toBe(4);
    });
  });

  describe('the all policy', () => {
    it('queues every channel at once in tier 0', () => {
      const message = plan({ type: 'security.alert', content: { title: 'Sign-in', body: 'New sign-in' } });
      expect(message.deliveries).toEqual([
        delivery({ userId: 'u-full', channel: 'websocket', endpoint: 'inbox:u-full', locale: 'zh-CN', tier: 0, status: 'queued', lastError: null, nextAttemptAt: null }),
        delivery({ userId: 'u-full', channel: 'push', endpoint: 'apns:u-full/iphone', locale: 'zh-CN', tier: 0, status: 'queued', lastError: null, nextAttemptAt: null }),
        delivery({ userId: 'u-full', channel: 'sms', endpoint: '+8613800000001', locale: 'zh-CN', tier: 0, status: 'queued', lastError: null, nextAttemptAt: null }),
        delivery({ userId: 'u-full', channel: 'email', endpoint: 'full@example.com', locale: 'zh-CN', tier: 0, status: 'queued', lastError: null, nextAttemptAt: null }),
      ]);
      expect(message.inbox).toEqual([{ userId: 'u-full', locale: 'zh-CN' }]);
    });
  });

  describe('a recipient without an endpoint for a channel', () => {
    it('gets a dead delivery saying so for each such channel', () => {
      const message = plan({ to: { userId: 'u-bare' } });
      expect(message.deliveries).toEqual([
        delivery({ userId: 'u-bare', channel: 'websocket', endpoint: 'inbox:u-bare', locale: 'en', tier: 0, status: 'queued', lastError: null, nextAttemptAt: null }),
        delivery({ userId: 'u-bare', channel: 'push', endpoint: 'none:u-bare', locale: 'en', tier: 0, status: 'dead', lastError: ErrorCode.NoEndpoint, nextAttemptAt: null }),
        delivery({ userId: 'u-bare', channel: 'sms', endpoint: 'none:u-bare', locale: 'en', tier: 0, status: 'dead', lastError: ErrorCode.NoEndpoint, nextAttemptAt: null }),
      ]);
      expect(message.inbox).toEqual([{ userId: 'u-bare', locale: 'en' }]);
    });

    it('is skipped by the escalation: without a device, sms becomes tier 1', () => {
      const message = plan({ to: { userId: 'u-phone' } });
      expect(message.deliveries.map((d) => [d.channel, d.endpoint, d.tier, d.status, d.nextAttemptAt, d.lastError])).toEqual([
        ['websocket', 'inbox:u-phone', 0, 'queued', null, null],
        ['push', 'none:u-phone', 0, 'dead', null, ErrorCode.NoEndpoint],
        ['sms', '+8613800000002', 1, 'held', at(60 * SECOND), null],
      ]);
    });

    it('gets a dead delivery for every missing channel under the all policy too', () => {
      const message = plan({ type: 'security.alert', to: { userId: 'u-phone' }, content: { title: 't', body: 'b' } });
      expect(message.deliveries.map((d) => [d.channel, d.endpoint, d.status, d.lastError])).toEqual([
        ['websocket', 'inbox:u-phone', 'queued', null],
        ['push', 'none:u-phone', 'dead', ErrorCode.NoEndpoint],
        ['sms', '+8613800000002', 'queued', null],
        ['email', 'none:u-phone', 'dead', ErrorCode.NoEndpoint],
      ]);
    });
  });

  describe('push to a user with two devices', () => {
    it('plans one delivery per device in the same tier, each in its device locale', () => {
      const message = plan({ to: { userId: 'u-two' } });
      expect(message.deliveries).toEqual([
        delivery({ userId: 'u-two', channel: 'websocket', endpoint: 'inbox:u-two', locale: 'en', tier: 0, status: 'queued', lastError: null, nextAttemptAt: null }),
        delivery({ userId: 'u-two', channel: 'push', endpoint: 'apns:u-two/ipad-1', locale: 'zh-CN', tier: 1, status: 'held', lastError: null, nextAttemptAt: at(60 * SECOND) }),
        delivery({ userId: 'u-two', channel: 'push', endpoint: 'fcm:u-two/pixel', locale: 'en', tier: 1, status: 'held', lastError: null, nextAttemptAt: at(60 * SECOND) }),
        delivery({ userId: 'u-two', channel: 'sms', endpoint: '+8613800000003', locale: 'en', tier: 2, status: 'held', lastError: null, nextAttemptAt: at(120 * SECOND) }),
      ]);
    });

    it('uses the request locale for every device when the request has one', () => {
      const message = plan({ to: { userId: 'u-two' }, locale: 'en-US' });
      expect(message.deliveries.map((d) => d.locale)).toEqual(['en', 'en', 'en', 'en']);
    });
  });

  describe('locale selection', () => {
    function localesOf(message: PlannedMessage): Record<string, string> {
      return Object.fromEntries(message.deliveries.map((d) => [d.endpoint, d.locale]));
    }

    it('uses the request locale over the profile and device locales', () => {
      const message = plan({ to: { userId: 'u-full' }, locale: 'en' });
      expect(message.locale).toBe('en');
      expect(localesOf(message)).toEqual({ 'inbox:u-full': 'en', 'apns:u-full/iphone': 'en', '+8613800000001': 'en' });
      expect(message.inbox).toEqual([{ userId: 'u-full', locale: 'en' }]);
    });

    it('uses the profile locale when the request has none', () => {
      expect(localesOf(plan({ to: { userId: 'u-en' } }))).toEqual({ 'inbox:u-en': 'en', 'hms:u-en/mate': 'en', '+8613800000005': 'en' });
      expect(localesOf(plan({ to: { userId: 'u-full' } }))).toEqual({
        'inbox:u-full': 'zh-CN',
        'apns:u-full/iphone': 'zh-CN',
        '+8613800000001': 'zh-CN',
      });
    });

    it('uses the device locale for push, the profile locale for the other channels', () => {
      expect(localesOf(plan({ to: { userId: 'u-mixed' } }))).toEqual({
        'inbox:u-mixed': 'en',
        'apns:u-mixed/iphone': 'zh-CN',
        '+8613800000007': 'en',
      });
    });

    it('falls back to the profile locale when the request locale has no template', () => {
      expect(localesOf(plan({ to: { userId: 'u-full' }, locale: 'fr' }))).toEqual({
        'inbox:u-full': 'zh-CN',
        'apns:u-full/iphone': 'zh-CN',
        '+8613800000001': 'zh-CN',
      });
    });

    it('falls back to the route default locale when no locale has a template', () => {
      expect(localesOf(plan({ to: { userId: 'u-fr' } }))).toEqual({ 'inbox:u-fr': 'en', 'apns:u-fr/iphone': 'en', '+33600000006': 'en' });
      expect(localesOf(plan({ to: { userId: 'u-bare' }, locale: 'de-DE' }))['inbox:u-bare']).toBe('en');
    });

    it('falls back from zh-TW to the zh-CN template', () => {
      expect(localesOf(plan({ to: { userId: 'u-tw' } }))).toEqual({ 'inbox:u-tw': 'zh-CN', 'xiaomi:u-tw/mi-9': 'zh-CN', '+8613800000004': 'zh-CN' });
      expect(localesOf(plan({ to: { userId: 'u-bare' }, locale: 'zh-TW' }))['inbox:u-bare']).toBe('zh-CN');
    });
  });

  describe('contents', () => {
    it('renders the template once per distinct locale with the data, ICU plural and select included', () => {
      const message = plan({ to: { topic: 'promotions' } });
      expect(new Set(message.deliveries.map((d) => d.locale))).toEqual(new Set(['zh-CN', 'en']));
      expect([...message.contents].sort((a, b) => a.locale.localeCompare(b.locale))).toEqual([
        { locale: 'en', title: 'Order 1234 shipped', body: '2 parcels with SF Express' },
        { locale: 'zh-CN', title: '订单 1234 已发货', body: '2 个包裹' },
      ]);
    });

    it('renders the other plural and select branches from other data', () => {
      const message = plan({ to: { userId: 'u-en' }, data: { orderNo: '77', count: 1, carrier: 'ups' } });
      expect(message.contents).toEqual([{ locale: 'en', title: 'Order 77 shipped', body: '1 parcel with a courier' }]);
    });

    it('throws a TemplateRenderError when the data lacks a variable of the template', () => {
      const render = (): PlannedMessage => plan({ to: { userId: 'u-en' }, data: { orderNo: '1234', carrier: 'sf' } });
      expect(render).toThrow(TemplateRenderError);
      expect(render).toThrow(/order\.shipped\/en/);
      try {
        render();
      } catch (error) {
        expect((error as TemplateRenderError).code).toBe(ErrorCode.TemplateError);
      }
    });

    it('throws a TemplateRenderError naming the variable, not its value, when a value does not fit the template', () => {
      const render = (): PlannedMessage => plan({ to: { userId: 'u-en' }, data: { ...SHIPPED_DATA, orderNo: { id: 1234 } } });
      expect(render).toThrow(TemplateRenderError);
      expect(render).toThrow(/^template order\.shipped\/en: variable "orderNo" must be a string or a number$/);
      expect(() => plan({ to: { userId: 'u-en' }, data: { ...SHIPPED_DATA, count: 'many' } })).toThrow(/variable "count" must be a number/);
    });

    it('throws a TemplateRenderError when a template renders more than a message may take, as a job the broker would refuse', () => {
      // 11 uses of a 60,000-character note: 660,000 bytes, under 64 KiB of request
      const echoed = (note: string) => plan({ type: 'order.echoed', to: { userId: 'u-en' }, data: { note } });
      expect(() => echoed('x'.repeat(60_000))).toThrow(/^template order\.echoed\/en: renders 660\d{3} bytes of title, body and link, more than the 524288 a message may take$/);
      // characters JSON writes as escapes count as such: 24,000 quotes take 48,000 bytes each time
      expect(() => echoed('"'.repeat(24_000))).toThrow(TemplateRenderError);
      const fitting = echoed('x'.repeat(Math.floor(MAX_RENDERED_BYTES / 11) - 100));
      expect(fitting.contents[0]!.body).toHaveLength(10 * (Math.floor(MAX_RENDERED_BYTES / 11) - 100) + 9);
    });

    it('throws a TemplateRenderError when the request has no data for a templated route', () => {
      expect(() => plan({ data: undefined })).toThrow(TemplateRenderError);
    });

    it('renders a template’s link with the data, and refuses one that renders to anything but an http or https URL', () => {
      const linked = (site: string) => plan({ type: 'order.linked', to: { userId: 'u-en' }, data: { orderNo: '1234', site } });
      expect(linked('https://shop.example').contents).toEqual([{ locale: 'en', title: 'Order 1234', body: '', url: 'https://shop.example/orders/1234' }]);
      expect(() => linked('javascript:alert(1)//')).toThrow(/^template order\.linked\/en: url: not an http or https URL/);
      expect(plan({ type: 'order.linked', to: { userId: 'u-en' }, data: { orderNo: '1234\n', site: ' https://shop.example' } }).contents[0]!.url).toBe('https://shop.example/orders/1234');
    });

    it('reads a link led or ended by a Unicode space (no-break, ideographic) as the address in it, instead of failing the whole batch', () => {
      const url = (site: string, orderNo: string) => plan({ type: 'order.linked', to: { userId: 'u-en' }, data: { orderNo, site } }).contents[0]!.url;
      expect(url('\u00a0https://shop.example', '1234\u3000')).toBe('https://shop.example/orders/1234');
      expect(url('\ufeffhttps://shop.example', '1234\u2028')).toBe('https://shop.example/orders/1234');
      expect(() => url('https://shop.example\u3000', '1234')).toThrow(TemplateRenderError);
    });

    it('takes the request’s link for a template that has none, and the template’s own over it', () => {
      const shipped = plan({ to: { userId: 'u-en' }, content: { title: 'ignored', url: 'https://shop.example/orders/1234' } });
      expect(shipped.contents).toEqual([{ locale: 'en', title: 'Order 1234 shipped', body: '2 parcels with SF Express', url: 'https://shop.example/orders/1234' }]);
      const linked = plan({ type: 'order.linked', to: { userId: 'u-en' }, data: { orderNo: '1234', site: 'https://shop.example' }, content: { url: 'https://elsewhere.example/' } });
      expect(linked.contents[0]!.url).toBe('https://shop.example/orders/1234');
    });

    it('takes the literal content’s link when the route has no templates', () => {
      const message = plan({ type: 'promo.spring', to: { userId: 'u-bare' }, content: { title: 'Sale', url: 'https://shop.example/sale' } });
      expect(message.contents).toEqual([{ locale: 'en', title: 'Sale', body: '', url: 'https://shop.example/sale' }]);
    });

    it('uses the literal content when the route has no templates', () => {
      const message = plan({ type: 'promo.spring', to: { userId: 'u-full' }, content: { title: 'Spring sale', body: '20% off' } });
      expect(message.contents).toEqual([{ locale: 'zh-CN', title: 'Spring sale', body: '20% off' }]);
      expect(message.deliveries.map((d) => d.locale)).toEqual(['zh-CN', 'zh-CN']);
    });

    it('uses empty texts when the route has no templates and the request no content', () => {
      const message = plan({ type: 'promo.spring', to: { userId: 'u-bare' }, data: undefined });
      expect(message.contents).toEqual([{ locale: 'en', title: '', body: '' }]);
    });
  });

  describe('channels in the request', () => {
    it('override the route channels', () => {
      const message = plan({ channels: ['sms'] });
      expect(message.deliveries).toEqual([
        delivery({ userId: 'u-full', channel: 'sms', endpoint: '+8613800000001', locale: 'zh-CN', tier: 0, status: 'queued', lastError: null, nextAttemptAt: null }),
      ]);
      expect(message.inbox).toEqual([]);
    });

    it('keep the route’s escalation order, whatever order they are in', () => {
      const message = plan({ channels: ['sms', 'websocket'] });
      expect(message.deliveries.map((d) => [d.channel, d.tier, d.status, d.nextAttemptAt])).toEqual([
        ['websocket', 0, 'queued', null],
        ['sms', 1, 'held', at(60 * SECOND)],
      ]);
    });

    it('may add a channel the route does not have', () => {
      const message = plan({ type: 'promo.spring', channels: ['email'], content: { title: 't', body: 'b' } });
      expect(channelsOf(message)).toEqual(['email full@example.com']);
    });
  });

  describe('targets', () => {
    it('sends to every subscriber of a topic', () => {
      const message = plan({ to: { topic: 'promotions' }, channels: ['websocket'] });
      expect(message.recipient).toEqual({ topic: 'promotions' });
      expect(message.deliveries.map((d) => [d.userId, d.endpoint, d.status])).toEqual([
        ['u-full', 'inbox:u-full', 'queued'],
        ['u-en', 'inbox:u-en', 'queued'],
        ['u-tw', 'inbox:u-tw', 'queued'],
      ]);
      expect(message.inbox.map((i) => i.userId)).toEqual(['u-full', 'u-en', 'u-tw']);
    });

    it.each([['a topic without subscribers', 'quiet'], ['an unknown topic', 'nobody-knows']])('plans no delivery for %s', (_case, topic) => {
      const message = plan({ to: { topic } });
      expect(message.deliveries).toEqual([]);
      expect(message.inbox).toEqual([]);
    });

    it('gives each recipient its own delivery to a phone or an address they share', () => {
      const message = plan({ to: { userIds: ['u-en', 'u-sibling', 'u-parent'] }, channels: ['sms', 'email'] });
      expect(message.deliveries.filter((d) => d.status !== 'dead').map((d) => `${d.userId} ${d.channel} ${d.endpoint}`)).toEqual([
        'u-en sms +8613800000005',
        'u-sibling sms +8613800000005',
        'u-sibling email family@example.com',
        'u-parent email family@example.com',
      ]);
    });

    it('de-duplicates userIds, keeping their order', () => {
      const message = plan({ to: { userIds: ['u-en', 'u-bare', 'u-en', 'u-tw', 'u-bare'] }, channels: ['websocket'] });
      expect(message.deliveries.map((d) => d.endpoint)).toEqual(['inbox:u-en', 'inbox:u-bare', 'inbox:u-tw']);
      expect(message.inbox.map((i) => i.userId)).toEqual(['u-en', 'u-bare', 'u-tw']);
    });

    it('sends one sms to a bare phone number, and records no endpoint for the channels a number cannot have', () => {
      const noEndpoint = expect.stringMatching(/^none:/) as unknown as string;
      const message = plan({ to: { phone: '+8613911112222' } });
      expect(message.deliveries).toEqual([
        delivery({ userId: null, channel: 'websocket', endpoint: noEndpoint, locale: 'en', tier: 0, status: 'dead', lastError: ErrorCode.NoEndpoint, nextAttemptAt: null }),
        delivery({ userId: null, channel: 'push', endpoint: noEndpoint, locale: 'en', tier: 0, status: 'dead', lastError: ErrorCode.NoEndpoint, nextAttemptAt: null }),
        delivery({ userId: null, channel: 'sms', endpoint: '+8613911112222', locale: 'en', tier: 0, status: 'queued', lastError: null, nextAttemptAt: null }),
      ]);
      expect(message.inbox).toEqual([]);
    });

    it('sends a bare phone number its sms in the request locale', () => {
      const message = plan({ to: { phone: '+8613911112222' }, channels: ['sms'], locale: 'zh-CN' });
      expect(message.deliveries.map((d) => [d.endpoint, d.locale])).toEqual([['+8613911112222', 'zh-CN']]);
      expect(message.contents).toEqual([{ locale: 'zh-CN', title: '订单 1234 已发货', body: '2 个包裹' }]);
    });

    it('sends one email to a bare address, and records no endpoint for the other channels', () => {
      const message = plan({ type: 'security.alert', to: { email: 'someone@example.com' }, content: { title: 't', body: 'b' } });
      expect(message.deliveries.map((d) => [d.userId, d.channel, d.status, d.lastError])).toEqual([
        [null, 'websocket', 'dead', ErrorCode.NoEndpoint],
        [null, 'push', 'dead', ErrorCode.NoEndpoint],
        [null, 'sms', 'dead', ErrorCode.NoEndpoint],
        [null, 'email', 'queued', null],
      ]);
      expect(message.deliveries[3]!.endpoint).toBe('someone@example.com');
      expect(message.deliveries.slice(0, 3).every((d) => d.endpoint.startsWith('none:'))).toBe(true);
      expect(message.inbox).toEqual([]);
    });
  });

  describe('sendAt', () => {
    it('in the future holds tier 0 until then, the later tiers `after` beyond it, with no inbox entry yet', () => {
      const sendAt = at(3_600 * SECOND);
      const message = plan({ sendAt: sendAt.toISOString() });
      expect(message.sendAt).toEqual(sendAt);
      expect(message.deliveries.map((d) => [d.channel, d.tier, d.status, d.nextAttemptAt])).toEqual([
        ['websocket', 0, 'held', sendAt],
        ['push', 1, 'held', at(3_660 * SECOND)],
        ['sms', 2, 'held', at(3_720 * SECOND)],
      ]);
      expect(message.inbox).toEqual([]);
    });

    it('in the future holds every channel of the all policy until then', () => {
      const sendAt = at(DAY / 2);
      const message = plan({ type: 'security.alert', sendAt: sendAt.toISOString(), content: { title: 't', body: 'b' } });
      expect(message.deliveries.map((d) => [d.tier, d.status, d.nextAttemptAt])).toEqual([
        [0, 'held', sendAt],
        [0, 'held', sendAt],
        [0, 'held', sendAt],
        [0, 'held', sendAt],
      ]);
      expect(message.inbox).toEqual([]);
    });

    it('in the past sends now', () => {
      const message = plan({ sendAt: at(-3_600 * SECOND).toISOString() });
      expect(message.sendAt).toBeNull();
      expect(message.deliveries[0]).toMatchObject({ channel: 'websocket', status: 'queued', nextAttemptAt: null });
      expect(message.deliveries[1]).toMatchObject({ channel: 'push', status: 'held', nextAttemptAt: at(60 * SECOND) });
      expect(message.inbox).toEqual([{ userId: 'u-full', locale: 'zh-CN' }]);
    });
  });

  describe('expiresAt', () => {
    it.each([
      ['in the past', at(-SECOND)],
      ['exactly now', NOW],
    ])('%s expires every delivery and queues nothing', (_case, expiresAt) => {
      const message = plan({ type: 'security.alert', expiresAt: expiresAt.toISOString(), content: { title: 't', body: 'b' } });
      expect(message.expiresAt).toEqual(expiresAt);
      expect(message.deliveries).toHaveLength(4);
      for (const d of message.deliveries) expect(d).toMatchObject({ status: 'expired', nextAttemptAt: null, lastError: null });
      expect(message.inbox).toEqual([]);
    });

    it('in the past expires the escalation tiers too', () => {
      const message = plan({ expiresAt: at(-SECOND).toISOString() });
      expect(message.deliveries.map((d) => [d.channel, d.status, d.nextAttemptAt])).toEqual([
        ['websocket', 'expired', null],
        ['push', 'expired', null],
        ['sms', 'expired', null],
      ]);
    });

    it('in the future is kept, and the deliveries go as usual', () => {
      const expiresAt = at(DAY);
      const message = plan({ expiresAt: expiresAt.toISOString() });
      expect(message.expiresAt).toEqual(expiresAt);
      expect(message.deliveries[0]!.status).toBe('queued');
    });

    it('defaults to now plus the route ttl', () => {
      expect(plan({}).expiresAt).toEqual(at(2 * DAY));
      expect(plan({ type: 'promo.spring', content: { title: 't', body: 'b' } }).expiresAt).toEqual(at(7 * DAY));
    });

    it('ends within the retention period (30 days here), whatever the request or the ttl from a late sendAt asks', () => {
      // Past it the message's rows may be deleted: a delivery still pending then would end with no outcome.
      expect(plan({ expiresAt: at(90 * DAY).toISOString() }).expiresAt).toEqual(at(30 * DAY));
      const late = plan({ sendAt: at(29 * DAY).toISOString() });
      expect(late.expiresAt).toEqual(at(30 * DAY));
      expect(late.deliveries[0]!.status).toBe('held');
    });
  });

  describe('priority', () => {
    it('comes from the request when it has one', () => {
      expect(plan({ priority: 'low' }).priority).toBe('low');
      expect(plan({ type: 'promo.spring', priority: 'high', content: { title: 't', body: 'b' } }).priority).toBe('high');
    });

    it('comes from the route otherwise', () => {
      expect(plan({}).priority).toBe('high');
      expect(plan({ type: 'promo.spring', content: { title: 't', body: 'b' } }).priority).toBe('normal');
    });
  });
});
