import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_RETRY } from '@notify/persistence';
import { channelsOf, lastTierDelayMs, RouteTable, RouteTableError, type Route } from './route-table';
import { LocalizedTemplate } from './template';

const SHIPPED_ROUTES = resolve(__dirname, '../../../../config/routes.yaml');

/** Runs a function expected to fail and returns its RouteTableError. */
function routeTableError(build: () => unknown): RouteTableError {
  try {
    build();
  } catch (error) {
    if (error instanceof RouteTableError) return error;
    throw error;
  }
  throw new Error('expected a RouteTableError, but the table was accepted');
}

/** The route a table resolves a type to; fails the test when there is none. */
function routeOf(table: RouteTable, type: string): Route {
  const route = table.resolve(type);
  if (!route) throw new Error(`expected a route for ${type}`);
  return route;
}

describe('RouteTable.from', () => {
  describe('resolving types', () => {
    const table = RouteTable.from({
      version: 1,
      routes: {
        'order.shipped': { channels: ['push', 'email'] },
        'login.code': { channels: ['sms'] },
        default: { channels: ['websocket', 'push'] },
      },
    });

    it('resolves a listed type to its own route', () => {
      expect(routeOf(table, 'order.shipped')).toMatchObject({ type: 'order.shipped', channels: ['push', 'email'] });
      expect(routeOf(table, 'login.code')).toMatchObject({ type: 'login.code', channels: ['sms'] });
    });

    it('resolves an unlisted type to the default route', () => {
      expect(routeOf(table, 'promo.spring')).toMatchObject({ type: 'default', channels: ['websocket', 'push'] });
    });

    it('resolves an unknown type to undefined when there is no default', () => {
      const strict = RouteTable.from({ version: 1, routes: { 'order.shipped': { channels: ['websocket'] } } });
      expect(strict.resolve('promo.spring')).toBeUndefined();
      expect(routeOf(strict, 'order.shipped').channels).toEqual(['websocket']);
    });

    it('accepts a table with no routes at all, resolving nothing', () => {
      expect(RouteTable.from({ version: 1, routes: {} }).resolve('order.shipped')).toBeUndefined();
    });
  });

  describe('defaults', () => {
    it('fills every omitted setting of a route from the built-in defaults', () => {
      const table = RouteTable.from({ version: 1, routes: { default: { channels: ['websocket'] } } });
      const route = routeOf(table, 'x');
      expect(route).toEqual({
        type: 'default',
        channels: ['websocket'],
        fallback: { policy: 'escalate', afterMs: null },
        priority: 'normal',
        ttlMs: 7 * 86_400_000,
        retry: { maxAttempts: 5, initialBackoffMs: 30_000, maxBackoffMs: 3_600_000, digest: false },
        defaultLocale: 'en',
        templates: new Map(),
      });
    });

    it('retries a route with no retry settings of its own or the table’s as a message stored without a policy is (DEFAULT_RETRY)', () => {
      const table = RouteTable.from({ version: 1, routes: { default: { channels: ['sms'] } } });
      expect(routeOf(table, 'x').retry).toEqual({ ...DEFAULT_RETRY, digest: false });
    });

    it('fills omitted route settings from the table defaults', () => {
      const table = RouteTable.from({
        version: 1,
        defaults: { locale: 'zh-CN', priority: 'low', ttl: '2d', retry: { maxAttempts: 3, initialBackoff: '10s', maxBackoff: '5m' } },
        routes: { default: { channels: ['sms'] } },
      });
      const route = routeOf(table, 'x');
      expect(route.defaultLocale).toBe('zh-CN');
      expect(route.priority).toBe('low');
      expect(route.ttlMs).toBe(2 * 86_400_000);
      expect(route.retry).toEqual({ maxAttempts: 3, initialBackoffMs: 10_000, maxBackoffMs: 300_000, digest: false });
    });

    it('fills the settings a partial defaults block leaves out with the built-in defaults, in milliseconds', () => {
      const table = RouteTable.from({
        version: 1,
        defaults: { locale: 'de', retry: { maxAttempts: 2 } },
        routes: { default: { channels: ['sms'] } },
      });
      const route = routeOf(table, 'x');
      expect(route.defaultLocale).toBe('de');
      expect(route.priority).toBe('normal');
      expect(route.ttlMs).toBe(7 * 86_400_000);
      expect(route.retry).toEqual({ maxAttempts: 2, initialBackoffMs: 30_000, maxBackoffMs: 3_600_000, digest: false });
    });

    it('lets a route override the table defaults, setting by setting', () => {
      const table = RouteTable.from({
        version: 1,
        defaults: { locale: 'en', priority: 'low', ttl: '7d', retry: { maxAttempts: 5, initialBackoff: '30s', maxBackoff: '1h' } },
        routes: {
          'security.alert': {
            channels: ['sms'],
            priority: 'high',
            ttl: '1d',
            retry: { initialBackoff: '10s' },
            defaultLocale: 'fr',
          },
        },
      });
      const route = routeOf(table, 'security.alert');
      expect(route.priority).toBe('high');
      expect(route.ttlMs).toBe(86_400_000);
      expect(route.retry).toEqual({ maxAttempts: 5, initialBackoffMs: 10_000, maxBackoffMs: 3_600_000, digest: false });
      expect(route.defaultLocale).toBe('fr');
    });
  });

  describe('fallback, ttl and retry', () => {
    it('reads the escalate policy with its delay in milliseconds', () => {
      const table = RouteTable.from({
        version: 1,
        routes: { default: { channels: ['websocket', 'push'], fallback: { policy: 'escalate', after: '30s' } } },
      });
      expect(routeOf(table, 'x').fallback).toEqual({ policy: 'escalate', afterMs: 30_000 });
    });

    it('takes escalate for a fallback that names only its delay, as docs/routing.md says', () => {
      const table = RouteTable.from({ version: 1, routes: { default: { channels: ['websocket', 'push'], fallback: { after: '30s' } } } });
      expect(routeOf(table, 'x').fallback).toEqual({ policy: 'escalate', afterMs: 30_000 });
    });

    it('reads the all policy, with no delay', () => {
      const table = RouteTable.from({ version: 1, routes: { default: { channels: ['websocket', 'sms'], fallback: { policy: 'all' } } } });
      expect(routeOf(table, 'x').fallback).toEqual({ policy: 'all', afterMs: null });
    });

    it('reads durations given as a number of seconds', () => {
      const table = RouteTable.from({
        version: 1,
        routes: { default: { channels: ['push'], fallback: { policy: 'escalate', after: 45 }, ttl: 3600, retry: { initialBackoff: 2, maxBackoff: 60 } } },
      });
      const route = routeOf(table, 'x');
      expect(route.fallback.afterMs).toBe(45_000);
      expect(route.ttlMs).toBe(3_600_000);
      expect(route.retry).toMatchObject({ initialBackoffMs: 2_000, maxBackoffMs: 60_000, digest: false });
    });

    it.each<[string, Record<string, unknown>, RegExp]>([
      ['an unknown fallback policy', { fallback: { policy: 'random' } }, /^routes\.default\.fallback\.policy: /],
      ['a malformed fallback delay', { fallback: { policy: 'escalate', after: '30 seconds' } }, /^routes\.default\.fallback\.after: /],
      ['a negative ttl', { ttl: -1 }, /^routes\.default\.ttl: /],
      ['a ttl in an unknown unit', { ttl: '2w' }, /^routes\.default\.ttl: /],
      ['a ttl of 0, which would expire every message on arrival', { ttl: '0s' }, /^routes\.default\.ttl: more than 0/],
      ['a ttl past ten years, whose expiry times cannot be stored', { ttl: '99999999d' }, /^routes\.default\.ttl: at most 3650d/],
      ['a fallback delay past ten years', { fallback: { policy: 'escalate', after: '4000d' } }, /^routes\.default\.fallback\.after: at most 3650d/],
      ['zero retry attempts', { retry: { maxAttempts: 0 } }, /^routes\.default\.retry\.maxAttempts: /],
      ['retry attempts past 1000, which SQL reads as a 32-bit integer', { retry: { maxAttempts: 3e9 } }, /^routes\.default\.retry\.maxAttempts: /],
      ['1001 retry attempts', { retry: { maxAttempts: 1001 } }, /^routes\.default\.retry\.maxAttempts: /],
      ['a fallback delay of 0, which releases every channel at once', { fallback: { policy: 'escalate', after: 0 } }, /^routes\.default\.fallback\.after: more than 0/],
      ['a fallback delay of 0s', { fallback: { policy: 'escalate', after: '0s' } }, /^routes\.default\.fallback\.after: more than 0/],
      ['an unknown retry setting', { retry: { attempts: 3 } }, /^routes\.default\.retry: .*attempts/],
      ['an unknown priority', { priority: 'urgent' }, /^routes\.default\.priority: /],
      ['a channel listed twice', { channels: ['websocket', 'push', 'websocket'] }, /^routes\.default\.channels: /],
      // Parsed fine, but Intl refuses the format at the first request: every request of the route would fail.
      ['a number format with an unknown unit', { templates: { en: { title: 't', body: 'Arrives in {h, number, ::unit/hours}' } } }, /^routes\.default\.templates\.en\.body: the format of \{h\}/],
      ['a currency format without a currency, in a plural branch', { templates: { en: { title: '{n, plural, one {{p, number, currency}} other {#}}', body: 'b' } } }, /^routes\.default\.templates\.en\.title: the format of \{p\}/],
      // Named styles the library does not know format with no options at all: a date where a time was meant.
      ['a time style that is a Java pattern', { templates: { en: { title: 't', body: 'Arrives at {at, time, HH:mm}' } } }, /^routes\.default\.templates\.en\.body: the style "HH:mm" of \{at\} is not one of short, medium, long, full; .*::HHmm/],
      ['a misspelt date style', { templates: { en: { title: 't', body: 'On {at, date, shrot}' } } }, /^routes\.default\.templates\.en\.body: the style "shrot" of \{at\}/],
      ['an unknown number style in a select branch', { templates: { en: { title: '{k, select, a {{n, number, percentage}} other {x}}', body: 'b' } } }, /^routes\.default\.templates\.en\.title: the style "percentage" of \{n\} is not one of integer, currency, percent/],
      ['a template with U+0000 (\\0 in YAML), which no request of the route could be stored with', { templates: { en: { title: 't', body: 'Alert\u0000 {x}' } } }, /^routes\.default\.templates\.en\.body: text may not contain U\+0000/],
      ['a template for a country, not a language', { templates: { en: { title: 't', body: 'b' }, jp: { title: 't', body: 'b' } } }, /^routes\.default\.templates\.jp: a language tag of a language the formatter knows/],
      ['a default locale that is no language tag', { defaultLocale: 'en_US!' }, /^routes\.default\.defaultLocale: a language tag/],
      ['a template locale longer than a delivery stores', { templates: { en: { title: 't', body: 'b' }, 'en-US-u-ca-gregory-fw-mon-mu-fahrenhe': { title: 't', body: 'b' } } }, /^routes\.default\.templates\.en-US-u-ca-gregory-fw-mon-mu-fahrenhe: /],
      ['a ttl under half a millisecond, which would expire every message on arrival', { ttl: 0.0004 }, /^routes\.default\.ttl: more than 0/],
      ['a fallback delay under half a millisecond', { fallback: { policy: 'escalate', after: 0.0001 } }, /^routes\.default\.fallback\.after: more than 0/],
      // The planner sends every channel of policy all at once, whatever the delay says.
      ['a fallback delay with policy all', { channels: ['websocket', 'push'], fallback: { policy: 'all', after: '30s' } }, /^routes\.default\.fallback\.after: applies to policy escalate only; with all, every channel goes at once$/],
      // A backoff of 0 re-sends at once: every attempt spent within moments.
      ['an initial retry backoff of 0', { retry: { initialBackoff: 0 } }, /^routes\.default\.retry\.initialBackoff: more than 0/],
      ['a retry backoff cap of 0s', { retry: { maxBackoff: '0s' } }, /^routes\.default\.retry\.maxBackoff: more than 0/],
    ])('rejects %s, with the path to it', (_case, settings, path) => {
      const error = routeTableError(() => RouteTable.from({ version: 1, routes: { default: { channels: ['websocket'], ...settings } } }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(path);
    });

    it('takes the named styles the library knows, and durations in seconds to the nearest millisecond', () => {
      const table = RouteTable.from({
        version: 1,
        routes: {
          default: { channels: ['websocket'], ttl: 0.29, templates: { en: { title: '{n, number, percent} {n, number, integer}', body: '{at, date, long} {at, time, short}' } } },
        },
      });
      expect(routeOf(table, 'x').ttlMs).toBe(290);
    });

    it('accepts 1000 retry attempts', () => {
      const table = RouteTable.from({ version: 1, routes: { default: { channels: ['websocket'], retry: { maxAttempts: 1000 } } } });
      expect(routeOf(table, 'x').retry.maxAttempts).toBe(1000);
    });

    it('rejects retry attempts past 1000 in the defaults, with the path to it', () => {
      const error = routeTableError(() => RouteTable.from({ version: 1, defaults: { retry: { maxAttempts: 3e9 } }, routes: {} }));
      expect(error.problems).toEqual([expect.stringMatching(/^defaults\.retry\.maxAttempts: /)]);
    });

    it('rejects a retry backoff of 0 in the defaults, with the path to it', () => {
      expect(routeTableError(() => RouteTable.from({ version: 1, defaults: { retry: { initialBackoff: '0s' } }, routes: {} })).problems).toEqual([
        expect.stringMatching(/^defaults\.retry\.initialBackoff: more than 0/),
      ]);
      expect(routeTableError(() => RouteTable.from({ version: 1, defaults: { retry: { maxBackoff: 0 } }, routes: {} })).problems).toEqual([
        expect.stringMatching(/^defaults\.retry\.maxBackoff: more than 0/),
      ]);
    });

    it('rejects a malformed duration in the defaults, with the path to it', () => {
      const error = routeTableError(() => RouteTable.from({ version: 1, defaults: { ttl: 'forever' }, routes: {} }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^defaults\.ttl: /);
    });
  });

  describe('retry backoffs in order', () => {
    const retrying = (retry: Record<string, unknown>, defaults: Record<string, unknown> = {}) => ({
      version: 1,
      defaults: { retry: defaults },
      routes: { 'order.shipped': { channels: ['sms'], retry }, default: { channels: ['websocket'] } },
    });
    const grow = 'the waits grow from initialBackoff up to maxBackoff';

    it('rejects an initial backoff above the cap, naming where the cap came from', () => {
      expect(routeTableError(() => RouteTable.from(retrying({ initialBackoff: '2h' }))).problems).toEqual([
        `routes.order.shipped.retry.initialBackoff: more than maxBackoff (1h, the built-in default): ${grow}`,
      ]);
      expect(routeTableError(() => RouteTable.from(retrying({ initialBackoff: '2h' }, { maxBackoff: '90m' }))).problems).toEqual([
        `routes.order.shipped.retry.initialBackoff: more than maxBackoff (1.5h, from defaults): ${grow}`,
      ]);
      expect(routeTableError(() => RouteTable.from(retrying({ initialBackoff: '10m', maxBackoff: '5m' }))).problems).toEqual([
        `routes.order.shipped.retry.initialBackoff: more than maxBackoff (5m): ${grow}`,
      ]);
    });

    it('rejects a cap below the initial backoff a route takes from the defaults, at the cap it sets', () => {
      expect(routeTableError(() => RouteTable.from(retrying({ maxBackoff: '10s' }))).problems).toEqual([
        `routes.order.shipped.retry.maxBackoff: less than initialBackoff (30s, the built-in default): ${grow}`,
      ]);
      expect(routeTableError(() => RouteTable.from(retrying({ maxBackoff: '1m' }, { initialBackoff: '2m' }))).problems).toEqual([
        `routes.order.shipped.retry.maxBackoff: less than initialBackoff (2m, from defaults): ${grow}`,
      ]);
    });

    it('rejects defaults out of order once, at the defaults, not at each route that takes them', () => {
      expect(routeTableError(() => RouteTable.from(retrying({}, { initialBackoff: '2h' }))).problems).toEqual([
        `defaults.retry.initialBackoff: more than maxBackoff (1h, the built-in default): ${grow}`,
      ]);
      expect(routeTableError(() => RouteTable.from(retrying({}, { maxBackoff: '10s' }))).problems).toEqual([
        `defaults.retry.maxBackoff: less than initialBackoff (30s, the built-in default): ${grow}`,
      ]);
      expect(routeTableError(() => RouteTable.from(retrying({}, { initialBackoff: '10m', maxBackoff: '5m' }))).problems).toEqual([
        `defaults.retry.initialBackoff: more than maxBackoff (5m): ${grow}`,
      ]);
    });

    it('accepts an initial backoff equal to its cap, and a route whose own backoffs fit where the defaults’ would not', () => {
      expect(routeOf(RouteTable.from(retrying({ initialBackoff: '1h' })), 'order.shipped').retry).toMatchObject({ initialBackoffMs: 3_600_000, maxBackoffMs: 3_600_000 });
      expect(routeOf(RouteTable.from(retrying({ initialBackoff: '2h', maxBackoff: '4h' }, { maxBackoff: '90m' })), 'order.shipped').retry).toMatchObject({
        initialBackoffMs: 7_200_000,
        maxBackoffMs: 14_400_000,
      });
      expect(routeOf(RouteTable.from(retrying({ maxBackoff: '30s' })), 'order.shipped').retry).toMatchObject({ initialBackoffMs: 30_000, maxBackoffMs: 30_000 });
    });
  });

  describe('escalation within the retention period', () => {
    const DAY = 86_400_000;
    // A ttl past the retention period, so that only the retention period limits the escalation.
    const escalating = (after: string, channels = ['websocket', 'push', 'sms', 'email']) => ({
      version: 1,
      routes: { 'order.shipped': { channels, fallback: { policy: 'escalate', after }, ttl: '90d' } },
    });

    it('rejects a route whose last fallback tier comes at or after the retention period, with the path to it', () => {
      // Four channels ten days apart: the last is released 30 days after the first, when the message may be gone.
      const error = routeTableError(() => RouteTable.from(escalating('10d'), 'routes.yaml', { retentionDays: 30 }));
      expect(error.problems).toEqual([
        'routes.order.shipped.fallback.after: 4 channels 10d apart release the last 30 days after the first; it must be less than the 30 days messages are kept (MESSAGE_RETENTION_DAYS)',
      ]);
    });

    it('accepts a route whose last fallback tier comes before the retention period ends', () => {
      const table = RouteTable.from(escalating('9d'), 'routes.yaml', { retentionDays: 30 });
      expect(routeOf(table, 'order.shipped').fallback).toEqual({ policy: 'escalate', afterMs: 9 * DAY });
    });

    it('counts only the route’s own channels', () => {
      expect(() => RouteTable.from(escalating('20d', ['websocket', 'push']), 'routes.yaml', { retentionDays: 30 })).not.toThrow();
    });
  });

  describe('escalation within the time to live', () => {
    const escalating = (after: string, settings: Record<string, unknown> = {}, defaults: Record<string, unknown> = {}) => ({
      version: 1,
      defaults,
      routes: { 'order.shipped': { channels: ['websocket', 'push', 'sms'], fallback: { policy: 'escalate', after }, ...settings } },
    });

    it('rejects a route whose last fallback tier is released when its messages have expired, with the path to it', () => {
      // Three channels a day apart: the sms tier comes 2 days after the first, when a 2-day message has expired.
      expect(routeTableError(() => RouteTable.from(escalating('1d', { ttl: '2d' }))).problems).toEqual([
        'routes.order.shipped.fallback.after: 3 channels 1d apart release the last 2d after the first; it must be less than the 2d its messages live (ttl), or the channels released then have expired and are never sent',
      ]);
      expect(routeTableError(() => RouteTable.from(escalating('90m', { ttl: '2h' }))).problems).toEqual([expect.stringMatching(/^routes\.order\.shipped\.fallback\.after: 3 channels 1\.5h apart release the last 3h after the first; it must be less than the 2h /)]);
    });

    it('counts the table default ttl for a route without one', () => {
      expect(routeTableError(() => RouteTable.from(escalating('4d'))).problems).toEqual([expect.stringMatching(/^routes\.order\.shipped\.fallback\.after: .* less than the 7d its messages live/)]);
      expect(routeTableError(() => RouteTable.from(escalating('30m', {}, { ttl: '1h' }))).problems).toEqual([expect.stringMatching(/^routes\.order\.shipped\.fallback\.after: .* less than the 1h its messages live/)]);
    });

    it('accepts a last tier released before the messages expire, and the all policy, which has no tiers', () => {
      expect(routeOf(RouteTable.from(escalating('23h', { ttl: '2d' })), 'order.shipped').fallback.afterMs).toBe(23 * 3_600_000);
      expect(routeOf(RouteTable.from(escalating('3d', { fallback: { policy: 'all' }, ttl: '2d' })), 'order.shipped').fallback).toEqual({ policy: 'all', afterMs: null });
      expect(() => RouteTable.from(escalating('3d', { channels: ['websocket'], ttl: '2d' }))).not.toThrow();
    });
  });

  describe('templates', () => {
    const table = RouteTable.from({
      version: 1,
      routes: {
        'order.shipped': {
          channels: ['websocket'],
          templates: {
            en: { title: 'Order {orderNo} shipped', body: '{count, plural, one {# parcel is} other {# parcels are}} on the way' },
            'zh-CN': { title: '订单 {orderNo} 已发货', body: '{count} 个包裹正在路上' },
          },
        },
        default: { channels: ['websocket'] },
      },
    });

    it('compiles the templates of each locale when the table loads', () => {
      const route = routeOf(table, 'order.shipped');
      expect([...route.templates.keys()]).toEqual(['en', 'zh-CN']);
      expect(route.templates.get('en')!.render({ orderNo: '1234', count: 1 })).toEqual({ title: 'Order 1234 shipped', body: '1 parcel is on the way' });
      expect(route.templates.get('en')!.render({ orderNo: '1234', count: 3 })).toEqual({ title: 'Order 1234 shipped', body: '3 parcels are on the way' });
      expect(route.templates.get('zh-CN')!.render({ orderNo: '9', count: 2 })).toEqual({ title: '订单 9 已发货', body: '2 个包裹正在路上' });
    });

    it('renders angle brackets in a template as text, not as rich-text tags no request can fill', () => {
      const compiled = LocalizedTemplate.compile('en', { title: 'Order <b>{orderNo}</b>', body: 'a < b > c' });
      expect(compiled).toBeInstanceOf(LocalizedTemplate);
      expect((compiled as LocalizedTemplate).render({ orderNo: '7' })).toEqual({ title: 'Order <b>7</b>', body: 'a < b > c' });
    });

    it('shows a template’s dates and times in the route’s time zone, else in the table default’s, whatever the process’s', () => {
      const at = Date.UTC(2026, 11, 5, 23, 30); // 07:30 the next day in Shanghai
      const when = { title: '{at, date, ::yyyyMMdd}', body: 'at {at, time, ::HHmm} ({at, date, short})' };
      const zoned = RouteTable.from({
        version: 1,
        defaults: { timeZone: 'America/New_York' },
        routes: { 'order.shipped': { channels: ['sms'], timeZone: 'Asia/Shanghai', templates: { en: when } }, default: { channels: ['sms'], templates: { en: when } } },
      });
      expect(routeOf(zoned, 'order.shipped').templates.get('en')!.render({ at })).toEqual({ title: '12/06/2026', body: 'at 07:30 (12/6/26)' });
      expect(routeOf(zoned, 'x').templates.get('en')!.render({ at })).toEqual({ title: '12/05/2026', body: 'at 18:30 (12/5/26)' });
    });

    it('refuses a time zone that is no IANA name, with its path', () => {
      const error = routeTableError(() =>
        RouteTable.from({ version: 1, defaults: { timeZone: 'CST' }, routes: { default: { channels: ['sms'], timeZone: 'asia/shanghai' } } }),
      );
      expect(error.problems).toEqual([expect.stringMatching(/^defaults\.timeZone: /), expect.stringMatching(/^routes\.default\.timeZone: /)]);
    });

    it('gives a route without templates an empty template map', () => {
      expect(routeOf(table, 'x').templates.size).toBe(0);
    });

    it('accepts templates whose locale is the route default locale rather than the table default', () => {
      const fr = RouteTable.from({
        version: 1,
        routes: { default: { channels: ['websocket'], defaultLocale: 'fr', templates: { fr: { title: 'Bonjour', body: '{name}' } } } },
      });
      expect(routeOf(fr, 'x').defaultLocale).toBe('fr');
      expect(routeOf(fr, 'x').templates.get('fr')!.render({ name: 'Ana' })).toEqual({ title: 'Bonjour', body: 'Ana' });
    });

    it('reports a template with an ICU syntax error, with its path', () => {
      const error = routeTableError(() =>
        RouteTable.from({
          version: 1,
          routes: { 'order.shipped': { channels: ['websocket'], templates: { en: { title: 'ok', body: 'Order {orderNo is on its way' } } } },
        }),
      );
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^routes\.order\.shipped\.templates\.en\.body: MALFORMED_ARGUMENT at character \d+ in "Order \{orderNo is on its way"$/);
    });

    it('reports a link template that can never render to an http or https URL, and takes one that can', () => {
      const linking = (url: string) => () =>
        RouteTable.from({ version: 1, routes: { 'order.shipped': { channels: ['websocket'], templates: { en: { title: 'Shipped', body: '{orderNo}', url } } } } });
      expect(routeTableError(linking('/orders/{orderNo}')).problems).toEqual(['routes.order.shipped.templates.en.url: cannot begin an http or https URL with "/orders/" in "/orders/{orderNo}"']);
      expect(routeTableError(linking('shop.example/o/{orderNo}')).problems).toEqual([expect.stringMatching(/^routes\.order\.shipped\.templates\.en\.url: cannot begin/)]);
      expect(routeTableError(linking('https://shop example/sale')).problems).toEqual([expect.stringMatching(/^routes\.order\.shipped\.templates\.en\.url: not an http or https URL/)]);
      for (const url of ['https://shop.example/o/{orderNo}', 'HTTP://shop.example/{orderNo}', '{site}/o/{orderNo}', 'http{secure, select, yes {s} other {}}://shop.example', 'https://shop.example/sale']) {
        expect(routeOf(linking(url)(), 'order.shipped').templates.get('en')).toBeDefined();
      }
    });

    it('reports a route whose templates lack its default locale, with its path', () => {
      const error = routeTableError(() =>
        RouteTable.from({
          version: 1,
          routes: { 'order.shipped': { channels: ['websocket'], templates: { 'zh-CN': { title: '已发货', body: '订单 {orderNo}' } } } },
        }),
      );
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^routes\.order\.shipped\.templates: .*"en"/);
    });

    it('reports a locale whose template uses a variable the default locale’s does not, or as a kind fewer values fit, with its path', () => {
      // Data that renders "en" would fail "de", sending a broadcast to the DLQ for everyone once one recipient reads German.
      const error = routeTableError(() =>
        RouteTable.from({
          version: 1,
          routes: {
            'order.shipped': {
              channels: ['websocket'],
              templates: {
                en: { title: 'Order {orderNo} shipped', body: '{count} parcels, due {due, date}' },
                de: { title: 'Bestellung {orderNo} für {name}', body: '{count, plural, one {# Paket} other {# Pakete}}, fällig {due, date}' },
                'zh-CN': { title: '订单 {orderNo, number}', body: '{count} 个包裹' },
              },
            },
          },
        }),
      );
      expect(error.problems).toEqual([
        'routes.order.shipped.templates.de.title: uses {name}, which the default locale "en" does not',
        'routes.order.shipped.templates.de.body: uses {count} as a number where the default locale "en" uses it as plain text',
        'routes.order.shipped.templates.zh-CN.title: uses {orderNo} as a number where the default locale "en" uses it as plain text',
      ]);
    });

    it('accepts a locale that uses fewer variables than the default locale, or one as a kind every value the default’s takes fits', () => {
      const table = RouteTable.from({
        version: 1,
        routes: {
          default: {
            channels: ['websocket'],
            defaultLocale: 'fr',
            templates: {
              fr: { title: 'Commande {orderNo}', body: '{count, plural, one {# colis} other {# colis}} le {due, date}' },
              en: { title: 'Order shipped', body: '{count} parcels, due {due, number}' },
            },
          },
        },
      });
      expect(routeOf(table, 'x').templates.get('en')!.render({ count: 2, due: 0 })).toEqual({ title: 'Order shipped', body: '2 parcels, due 0' });
    });

    it('reports an elision ICU MessageFormat reads as quoting, with its path', () => {
      const error = routeTableError(() =>
        RouteTable.from({ version: 1, routes: { default: { channels: ['websocket'], defaultLocale: 'fr', templates: { fr: { title: 'Retrait', body: "À retirer à l'{pickupPoint}" } } } } }),
      );
      expect(error.problems).toEqual([expect.stringMatching(/^routes\.default\.templates\.fr\.body: "l'\{" at character 13: an apostrophe before \{ starts quoted text, .*write "l''\{" \(two apostrophes\) or "l’\{"/)]);
    });

    it('reports a template without a title or a body, with its path', () => {
      const error = routeTableError(() =>
        RouteTable.from({ version: 1, routes: { default: { channels: ['websocket'], templates: { en: { title: 'only a title' } } } } }),
      );
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^routes\.default\.templates\.en\.body: /);
    });

    it('lists every template problem of every route at once', () => {
      const error = routeTableError(() =>
        RouteTable.from({
          version: 1,
          routes: {
            'order.shipped': {
              channels: ['websocket'],
              templates: { en: { title: '{orderNo', body: 'x' }, 'zh-CN': { title: 'x', body: '{count, plural, one {#}}' } },
            },
            'login.code': { channels: ['sms'], defaultLocale: 'de', templates: { en: { title: 'Code', body: '{code}' } } },
            default: { channels: ['websocket'] },
          },
        }),
      );
      expect(error.problems).toHaveLength(3);
      expect(error.problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^routes\.order\.shipped\.templates\.en\.title: /),
          expect.stringMatching(/^routes\.order\.shipped\.templates\.zh-CN\.body: /),
          expect.stringMatching(/^routes\.login\.code\.templates: .*"de"/),
        ]),
      );
    });
  });

  describe('schema problems', () => {
    it('rejects a wrong version, naming the field', () => {
      const error = routeTableError(() => RouteTable.from({ version: 2, routes: {} }, 'routes.yaml'));
      expect(error.name).toBe('RouteTableError');
      expect(error.file).toBe('routes.yaml');
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^version: /);
      expect(error.message).toContain('routes.yaml');
    });

    it('rejects an unknown channel, with the path to it', () => {
      const error = routeTableError(() => RouteTable.from({ version: 1, routes: { default: { channels: ['websocket', 'fax'] } } }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^routes\.default\.channels\.1: /);
    });

    it('rejects an empty channel list, with the path to it', () => {
      const error = routeTableError(() => RouteTable.from({ version: 1, routes: { 'order.shipped': { channels: [] } } }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^routes\.order\.shipped\.channels: /);
    });

    it('rejects an extra key at the top level', () => {
      const error = routeTableError(() => RouteTable.from({ version: 1, routes: {}, fallback: 'sms' }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^\(root\): .*fallback/);
    });

    it('rejects an extra key in a route, with the path to it', () => {
      const error = routeTableError(() => RouteTable.from({ version: 1, routes: { default: { channels: ['websocket'], retries: 3 } } }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^routes\.default: .*retries/);
    });

    it('rejects a document that is not an object', () => {
      const error = routeTableError(() => RouteTable.from(null));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^\(root\): /);
    });

    it('lists every problem of a document at once, each with its path', () => {
      const error = routeTableError(() =>
        RouteTable.from({
          version: 3,
          defaults: { priority: 'urgent' },
          routes: {
            'order.shipped': { channels: [] },
            'login.code': { channels: ['pigeon'], fallback: { policy: 'escalate', after: 'soon' } },
            default: { channels: ['websocket'], template: 'x' },
          },
        }),
      );
      expect(error.problems).toHaveLength(6);
      expect(error.problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^version: /),
          expect.stringMatching(/^defaults\.priority: /),
          expect.stringMatching(/^routes\.order\.shipped\.channels: /),
          expect.stringMatching(/^routes\.login\.code\.channels\.0: /),
          expect.stringMatching(/^routes\.login\.code\.fallback\.after: /),
          expect.stringMatching(/^routes\.default: .*template/),
        ]),
      );
      for (const problem of error.problems) expect(error.message).toContain(problem);
    });
  });
});

describe('RouteTable.load', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'route-table-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function write(name: string, text: string): string {
    const file = join(dir, name);
    writeFileSync(file, text, 'utf8');
    return file;
  }

  it('loads a valid YAML file', () => {
    const file = write(
      'routes.yaml',
      [
        'version: 1',
        'defaults: { locale: en, ttl: 1d }',
        'routes:',
        '  order.shipped:',
        '    channels: [push, sms]',
        '    fallback: { policy: escalate, after: 2m }',
        '    templates:',
        '      en: { title: "Shipped", body: "Order {orderNo}" }',
        '  default:',
        '    channels: [websocket, email]',
        '    fallback: { policy: all }',
        '',
      ].join('\n'),
    );
    const table = RouteTable.load(file);
    const shipped = routeOf(table, 'order.shipped');
    expect(shipped).toMatchObject({ channels: ['push', 'sms'], fallback: { policy: 'escalate', afterMs: 120_000 }, ttlMs: 86_400_000 });
    expect(shipped.templates.get('en')!.render({ orderNo: '7' })).toEqual({ title: 'Shipped', body: 'Order 7' });
    expect(routeOf(table, 'anything.else')).toMatchObject({ type: 'default', channels: ['websocket', 'email'], fallback: { policy: 'all' } });
  });

  it('reports a YAML syntax error with the file name', () => {
    const file = write('broken.yaml', 'version: 1\nroutes:\n  default: { channels: [websocket\n');
    const error = routeTableError(() => RouteTable.load(file));
    expect(error.file).toBe(file);
    expect(error.problems).toEqual(expect.arrayContaining([expect.stringMatching(/at line \d+, column \d+/)]));
    expect(error.message).toContain(file);
  });

  it('reports every YAML error of a file, not only the first', () => {
    const file = write('twice-broken.yaml', 'version: 1\nversion: 1\nroutes:\n  default: { channels: [websocket\n');
    const error = routeTableError(() => RouteTable.load(file));
    expect(error.problems.length).toBeGreaterThanOrEqual(2);
    expect(error.problems.some((problem) => /unique/i.test(problem))).toBe(true);
  });

  it('reports an alias to no anchor with the file name', () => {
    const file = write('alias.yaml', 'version: 1\nroutes:\n  default: *nowhere\n');
    const error = routeTableError(() => RouteTable.load(file));
    expect(error.file).toBe(file);
    expect(error.problems).toEqual([expect.stringMatching(/nowhere/)]);
  });

  it('reports schema problems of a loaded file with their paths and the file name', () => {
    const file = write('bad.yaml', 'version: 1\nroutes:\n  default:\n    channels: [websocket, fax]\n');
    const error = routeTableError(() => RouteTable.load(file));
    expect(error.file).toBe(file);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^routes\.default\.channels\.1: /);
  });

  it('reports template problems of a loaded file with their paths and the file name', () => {
    const file = write(
      'bad-template.yaml',
      ['version: 1', 'routes:', '  default:', '    channels: [websocket]', '    templates:', '      en: { title: "Hi {name", body: "x" }', ''].join('\n'),
    );
    const error = routeTableError(() => RouteTable.load(file));
    expect(error.file).toBe(file);
    expect(error.problems).toEqual([expect.stringMatching(/^routes\.default\.templates\.en\.title: /)]);
    expect(error.message).toContain(file);
  });

  it('reports a missing file', () => {
    const file = join(dir, 'missing.yaml');
    const error = routeTableError(() => RouteTable.load(file));
    expect(error.file).toBe(file);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('ENOENT');
  });

  describe('the shipped config/routes.yaml', () => {
    const table = RouteTable.load(SHIPPED_ROUTES, { retentionDays: 30 });

    it('has a default route that starts with websocket', () => {
      const fallback = routeOf(table, 'a.type.nobody.listed');
      expect(fallback.type).toBe('default');
      expect(fallback.channels[0]).toBe('websocket');
    });

    it('has order.shipped with en and zh-CN templates that render its data', () => {
      const shipped = routeOf(table, 'order.shipped');
      expect(shipped.type).toBe('order.shipped');
      expect(shipped.defaultLocale).toBe('en');
      expect([...shipped.templates.keys()].sort()).toEqual(['en', 'zh-CN']);
      expect(shipped.templates.get('en')!.render({ orderNo: '1234' }).body).toContain('1234');
      expect(shipped.templates.get('zh-CN')!.render({ orderNo: '1234' }).body).toContain('1234');
    });
  });
});

describe('channelsOf', () => {
  const table = RouteTable.from({ version: 1, routes: { default: { channels: ['websocket', 'push'] } } });
  const route = routeOf(table, 'order.shipped');

  it('uses the route channels when the request names none', () => {
    expect(channelsOf(route, undefined)).toEqual(['websocket', 'push']);
  });

  it('lets the request channels override the route channels', () => {
    expect(channelsOf(route, ['email', 'sms'])).toEqual(['email', 'sms']);
  });

  it('de-duplicates the request channels, keeping their order', () => {
    expect(channelsOf(route, ['sms', 'email', 'sms', 'email'])).toEqual(['sms', 'email']);
  });

  it('narrows the route to the request channels in the route’s order, those it lacks after them', () => {
    expect(channelsOf(route, ['push', 'websocket'])).toEqual(['websocket', 'push']);
    expect(channelsOf(route, ['sms', 'push'])).toEqual(['push', 'sms']);
    expect(channelsOf(route, ['email', 'push', 'sms'])).toEqual(['push', 'email', 'sms']);
  });

  it('does not change the route it was given', () => {
    const channels = channelsOf(route, undefined);
    channels.push('sms');
    channelsOf(route, ['email']);
    expect(route.channels).toEqual(['websocket', 'push']);
  });
});

describe('lastTierDelayMs', () => {
  it('releases the last of n escalating channels n − 1 delays after the first', () => {
    expect(lastTierDelayMs({ policy: 'escalate', afterMs: 30_000 }, 3)).toBe(60_000);
  });

  it('counts no delay for a single channel, policy all, or escalation without a delay', () => {
    expect(lastTierDelayMs({ policy: 'escalate', afterMs: 30_000 }, 1)).toBe(0);
    expect(lastTierDelayMs({ policy: 'all', afterMs: null }, 3)).toBe(0);
    expect(lastTierDelayMs({ policy: 'escalate', afterMs: null }, 3)).toBe(0);
  });
});
