import { ErrorCode, MAX_JSON_NESTING, MAX_REQUEST_BYTES, MAX_USER_IDS, Topics } from '@notify/contracts';
import type { ConsumedRecord, Rejection } from '@notify/kafka';
import { RouteTable, type Route } from '../routing/route-table';
import { parseRequestRecord, sendAtProblem, type ParsedRecord } from './request-parser';

const routes = RouteTable.from({
  version: 1,
  routes: {
    'login.code': { channels: ['sms'] },
    default: { channels: ['websocket', 'push'] },
  },
});

const routesWithoutDefault = RouteTable.from({
  version: 1,
  routes: { 'order.shipped': { channels: ['websocket'] } },
});

function record(value: Buffer | string | null, key: string | null = 'u-42'): ConsumedRecord {
  return {
    topic: Topics.requests,
    partition: 2,
    offset: '417',
    key: key === null ? null : Buffer.from(key),
    value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
    headers: { traceparent: Buffer.from('00-abc-def-01') },
    timestamp: '1764000000000',
  };
}

function request(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'order-1234-shipped',
    type: 'order.shipped',
    to: { userId: 'u-42' },
    data: { orderNo: '1234' },
    content: { title: 'Your order shipped', body: 'Order 1234 is on its way' },
    ...overrides,
  };
}

function accept(value: Buffer | string, table: RouteTable = routes): Extract<ParsedRecord, { ok: true }> {
  const parsed = parseRequestRecord(record(value), table);
  if (!parsed.ok) throw new Error(`expected the request to be accepted, got ${parsed.rejection.code}: ${parsed.rejection.reason}`);
  return parsed;
}

function reject(value: Buffer | string | null, table: RouteTable = routes): Rejection {
  const parsed = parseRequestRecord(record(value), table);
  if (parsed.ok) throw new Error('expected the request to be rejected, but it was accepted');
  return parsed.rejection;
}

/** A serialized request padded through `data` to exactly `bytes` bytes of UTF-8. */
function requestOfSize(bytes: number): string {
  const empty = JSON.stringify(request({ data: { pad: '' } }));
  const json = JSON.stringify(request({ data: { pad: 'x'.repeat(bytes - Buffer.byteLength(empty)) } }));
  expect(Buffer.byteLength(json)).toBe(bytes);
  return json;
}

describe('parseRequestRecord', () => {
  describe('a valid request', () => {
    it('becomes the parsed request, unchanged, with the route of its type', () => {
      const { request: parsed, route } = accept(JSON.stringify(request()));
      expect(parsed).toEqual({
        id: 'order-1234-shipped',
        type: 'order.shipped',
        to: { userId: 'u-42' },
        data: { orderNo: '1234' },
        content: { title: 'Your order shipped', body: 'Order 1234 is on its way' },
      });
      expect(route).toBe(routes.resolve('order.shipped'));
      expect(route.type).toBe('default');
    });

    it('keeps the optional fields it was given', () => {
      const { request: parsed } = accept(
        JSON.stringify(
          request({
            channels: ['push', 'email'],
            locale: 'zh-CN',
            priority: 'high',
            sendAt: '2026-12-01T09:00:00Z',
            expiresAt: '2026-12-02T09:00:00+08:00',
          }),
        ),
      );
      expect(parsed.channels).toEqual(['push', 'email']);
      expect(parsed.locale).toBe('zh-CN');
      expect(parsed.priority).toBe('high');
      expect(parsed.sendAt).toBe('2026-12-01T09:00:00Z');
      expect(parsed.expiresAt).toBe('2026-12-02T09:00:00+08:00');
    });

    it.each([
      ['zh_CN', 'zh-CN'],
      ['zh_CN_#Hans', 'zh-Hans-CN'],
      ['zh__#Hant', 'zh-Hant'],
      ['zh_CN_#Hans_u-fw-mon', 'zh-Hans-CN-u-fw-mon'],
      ['en_US_#u-mu-celsius', 'en-US-u-mu-celsius'],
      // Longer than the 35 characters stored: without its extensions.
      ['en_US_#u-ca-gregory-fw-mon-mu-fahrenhe', 'en-US'],
      ['in_ID', 'id-ID'],
      ['en_US.UTF-8', 'en-US'],
      ['EN-us', 'en-US'],
    ])("takes the locale %s (Java's, POSIX's or any case) as the tag it means, %s", (locale, tag) => {
      expect(accept(JSON.stringify(request({ locale }))).request.locale).toBe(tag);
    });

    it('takes times to the minute, as Java writes a time on a whole minute', () => {
      const { request: parsed } = accept(JSON.stringify(request({ sendAt: '2026-12-01T09:00Z', expiresAt: '2026-12-02T09:00+08:00' })));
      expect(Date.parse(parsed.sendAt!)).toBe(Date.parse('2026-12-01T09:00:00Z'));
      expect(Date.parse(parsed.expiresAt!)).toBe(Date.parse('2026-12-02T01:00:00Z'));
    });

    it('reads a null optional field as absent, as many JSON writers write an unset one', () => {
      const { request: parsed } = accept(
        JSON.stringify({ id: 'r1', type: 'ping', to: { userId: 'u-1' }, locale: null, sendAt: null, priority: null, channels: null, content: { title: 'Hi', body: null, url: null } }),
      );
      expect(parsed).toEqual({ id: 'r1', type: 'ping', to: { userId: 'u-1' }, content: { title: 'Hi' } });
    });

    it.each(['tom&jerry@example.com', 'a@example.xn--p1ai', 'a@xn--fsqu00a.xn--fiqs8s', "o'reilly@example.co.uk"])('accepts the email address %s', (email) => {
      expect(accept(JSON.stringify(request({ to: { email } }))).request.to).toEqual({ email });
    });

    it('fills in nothing the request does not carry', () => {
      const { request: parsed } = accept(JSON.stringify({ id: 'r1', type: 'ping', to: { userId: 'u-1' } }));
      expect(parsed).toEqual({ id: 'r1', type: 'ping', to: { userId: 'u-1' } });
    });

    it('picks the route of a listed type over the default', () => {
      const { route } = accept(JSON.stringify(request({ type: 'login.code' })));
      expect(route.type).toBe('login.code');
      expect(route.channels).toEqual(['sms']);
    });

    it('accepts exactly the largest number of userIds', () => {
      const userIds = Array.from({ length: MAX_USER_IDS }, (_, i) => `u-${i}`);
      expect(accept(JSON.stringify(request({ to: { userIds } }))).request.to).toEqual({ userIds });
    });

    it('accepts a listed type from a table without a default', () => {
      const { route } = accept(JSON.stringify(request()), routesWithoutDefault);
      expect(route.type).toBe('order.shipped');
      expect(route.channels).toEqual(['websocket']);
    });

    it('accepts an email address of 254 characters, the longest SMTP carries', () => {
      const email = emailOfLength(254);
      expect(accept(JSON.stringify(request({ to: { email } }))).request.to).toEqual({ email });
    });

    it('accepts an id of exactly 128 allowed characters', () => {
      const id = 'a.B_9:-'.repeat(19).slice(0, 128);
      expect(accept(JSON.stringify(request({ id }))).request.id).toBe(id);
    });

    it('accepts a request of exactly MAX_REQUEST_BYTES', () => {
      expect(accept(requestOfSize(MAX_REQUEST_BYTES)).request.id).toBe('order-1234-shipped');
    });
  });

  describe('a record that cannot be read', () => {
    it('rejects an empty value as invalid JSON', () => {
      const rejection = reject(Buffer.alloc(0));
      expect(rejection.code).toBe(ErrorCode.InvalidJson);
      expect(rejection.reason).toMatch(/empty/);
    });

    it('rejects a null value (a tombstone) as invalid JSON', () => {
      const rejection = reject(null);
      expect(rejection.code).toBe(ErrorCode.InvalidJson);
      expect(rejection.reason).toMatch(/empty/);
    });

    it('rejects a value that is not JSON', () => {
      const rejection = reject('{"id": "order-1", "type": ');
      expect(rejection.code).toBe(ErrorCode.InvalidJson);
      expect(rejection.reason).toBe('not valid JSON: the text ends too early');
    });

    it('rejects a request written in another encoding than UTF-8, instead of showing its text garbled', () => {
      const latin1 = Buffer.from(JSON.stringify(request({ content: { title: 'Commande expédiée' } })), 'latin1');
      expect(latin1.toString('utf8')).toContain('exp\uFFFDdi\uFFFDe');
      const rejection = reject(latin1);
      expect(rejection.code).toBe(ErrorCode.InvalidJson);
      expect(rejection.reason).toBe('not valid JSON: the text is not UTF-8');
      expect(accept(Buffer.from(JSON.stringify(request({ content: { title: 'Commande expédiée' } })), 'utf8')).request.content?.title).toBe('Commande expédiée');
    });

    it('gives a reason that does not quote the text, which can hold personal data', () => {
      for (const text of ['{"id":"r-1","type":"t","to":{"phone":+8613800138000}}', '{"to":{"email":ada@example.com}}', 'ada@example.com']) {
        const rejection = reject(text);
        expect(rejection.code).toBe(ErrorCode.InvalidJson);
        expect(rejection.reason).toMatch(/^not valid JSON/);
        expect(rejection.reason).not.toMatch(/8613800138000|ada|example/);
      }
    });

    it('rejects a request nested deeper than MAX_JSON_NESTING, however small', () => {
      const nested = (depth: number) => JSON.stringify(request({ data: { deep: 'here' } })).replace('"here"', '['.repeat(depth) + ']'.repeat(depth));
      // The request object and data take two levels.
      expect(accept(nested(MAX_JSON_NESTING - 2)).request.data).toBeDefined();
      const rejection = reject(nested(MAX_JSON_NESTING - 1));
      expect(rejection.code).toBe(ErrorCode.SchemaViolation);
      expect(rejection.reason).toContain(`deeper than ${MAX_JSON_NESTING} levels`);
      // 30,000 levels fit in 64 KiB; they pass JSON.parse but overflow JSON.stringify's stack.
      expect(() => JSON.stringify(JSON.parse(nested(30_000)))).toThrow(RangeError);
      expect(reject(nested(30_000)).code).toBe(ErrorCode.SchemaViolation);
    });

    it('counts brackets inside strings as text, not nesting', () => {
      expect(accept(JSON.stringify(request({ data: { note: '[[[[{{{{'.repeat(20) + '\\"]]' } }))).request.data).toBeDefined();
    });

    it('rejects a request one byte over MAX_REQUEST_BYTES as too large', () => {
      const rejection = reject(requestOfSize(MAX_REQUEST_BYTES + 1));
      expect(rejection.code).toBe(ErrorCode.PayloadTooLarge);
      expect(rejection.reason).toContain(String(MAX_REQUEST_BYTES + 1));
      expect(rejection.reason).toContain(String(MAX_REQUEST_BYTES));
    });

    it('counts bytes, not characters, against MAX_REQUEST_BYTES', () => {
      // 22,000 three-byte characters: under the limit in characters, over it in bytes.
      const json = JSON.stringify(request({ data: { note: '中'.repeat(22_000) } }));
      expect(json.length).toBeLessThan(MAX_REQUEST_BYTES);
      expect(reject(json).code).toBe(ErrorCode.PayloadTooLarge);
    });
  });

  describe('a request that breaks the schema', () => {
    it.each<[string, Record<string, unknown>, RegExp]>([
      ['an id with characters outside [A-Za-z0-9._:-]', { id: 'order 1234/shipped' }, /(^|; )id: /],
      ['an id of 129 characters', { id: 'a'.repeat(129) }, /(^|; )id: /],
      ['an empty id', { id: '' }, /(^|; )id: /],
      ['`to` with two selectors', { to: { userId: 'u-1', topic: 'promotions' } }, /^to: exactly one of userId, userIds \(1 to 1000\), topic, phone or email$/],
      ['`to` with 1001 userIds', { to: { userIds: Array.from({ length: MAX_USER_IDS + 1 }, (_, i) => `u-${i}`) } }, /^to\.userIds: Too big: expected array to have <=1000 items$/],
      ['`to` with no selector', { to: {} }, /^to: exactly one of userId/],
      ['`to` that is no object', { to: 'u-1' }, /^to: exactly one of userId/],
      ['an unknown channel', { channels: ['websocket', 'pigeon'] }, /(^|; )channels\.1: /],
      ['an empty channel list', { channels: [] }, /(^|; )channels: /],
      ['a sendAt that is not ISO 8601', { sendAt: 'tomorrow at nine' }, /(^|; )sendAt: /],
      ['a sendAt without an offset', { sendAt: '2026-12-01T09:00' }, /(^|; )sendAt: an ISO 8601 date and time with an offset/],
      ['a sendAt on a day that does not exist', { sendAt: '2026-02-29T09:00Z' }, /(^|; )sendAt: /],
      ['an expiresAt in the year 0', { expiresAt: '0000-01-01T00:00:00Z' }, /(^|; )expiresAt: must fall between/],
      ['an expiresAt that is the year 10000 in UTC', { expiresAt: '9999-12-31T23:00:00-05:00' }, /(^|; )expiresAt: must fall between/],
      ['a sendAt before the year 1 in UTC', { sendAt: '0001-01-01T00:30:00+01:00' }, /(^|; )sendAt: must fall between/],
      ['an unknown priority', { priority: 'urgent' }, /(^|; )priority: /],
      ['a locale that is no language tag', { locale: 'Chinese (China)' }, /(^|; )locale: a BCP 47 language tag/],
      ['an email address of 255 characters', { to: { email: emailOfLength(255) } }, /(^|; )to(\.[^:]*)?: /],
    ])('rejects %s, naming the field', (_case, overrides, field) => {
      const rejection = reject(JSON.stringify(request(overrides)));
      expect(rejection.code).toBe(ErrorCode.SchemaViolation);
      expect(rejection.reason).toMatch(field);
    });

    it('names an unknown key that looks like a field, and not one that may be personal data', () => {
      expect(reject(JSON.stringify(request({ to: { userId: 'u-1', nickname: 'Al' } }))).reason).toBe('to: Unrecognized key: "nickname"');
      const personal = reject(JSON.stringify(request({ to: { email: 'bob@example.com', 'alice@example.com': 'Alice', '+8613800000000': true } })));
      expect(personal.reason).toBe('to: Unrecognized keys: [key], [key]');
    });

    it('rejects a request without a type, naming the field', () => {
      const { type: _type, ...withoutType } = request();
      const rejection = reject(JSON.stringify(withoutType));
      expect(rejection.code).toBe(ErrorCode.SchemaViolation);
      expect(rejection.reason).toMatch(/(^|; )type: /);
    });

    it('rejects JSON that is not an object', () => {
      const rejection = reject('["order-1234-shipped"]');
      expect(rejection.code).toBe(ErrorCode.SchemaViolation);
      expect(rejection.reason).toMatch(/^\(root\): /);
    });

    it('lists every broken field in the reason', () => {
      const rejection = reject(JSON.stringify(request({ id: 'bad id', sendAt: 'soon', channels: ['fax'] })));
      expect(rejection.code).toBe(ErrorCode.SchemaViolation);
      expect(rejection.reason).toMatch(/(^|; )id: /);
      expect(rejection.reason).toMatch(/(^|; )sendAt: /);
      expect(rejection.reason).toMatch(/(^|; )channels\.0: /);
    });
  });

  it('takes an http or https link in content.url and refuses any other, naming the field', () => {
    const link = request({ content: { title: 't', url: 'https://shop.example/orders/1' } });
    expect(accept(JSON.stringify(link)).request.content?.url).toBe('https://shop.example/orders/1');
    for (const url of ['javascript:alert(1)', 'ftp://files.example/x', 'not a link']) {
      const rejection = reject(JSON.stringify(request({ content: { title: 't', url } })));
      expect([rejection.code, rejection.reason]).toEqual([ErrorCode.SchemaViolation, expect.stringMatching(/^content\.url: /)]);
    }
  });

  describe('a request carrying text PostgreSQL cannot store', () => {
    it.each([
      ['U+0000 in a data value', request({ data: { note: 'a\u0000b' } }), /^data\.note: /],
      ['an unpaired high surrogate in the title', request({ content: { title: 'x\ud800', body: 'b' } }), /^content\.title: /],
      ['an unpaired low surrogate deep in data', request({ data: { list: [{ a: '\udc00y' }] } }), /^data\.list\.0\.a: /],
      ['U+0000 in a key of data', request({ data: { ok: 1, 'k\u0000': 1 } }), /^data\.\[key 2\]: /],
    ])('rejects %s as a schema violation naming the field', (_case, body, field) => {
      const rejection = reject(JSON.stringify(body));
      expect(rejection.code).toBe(ErrorCode.SchemaViolation);
      expect(rejection.reason).toMatch(field);
      expect(rejection.reason).toMatch(/U\+0000 or an unpaired UTF-16 surrogate/);
    });

    it('names a key of data that is not shaped like a field name by its position, never by its text', () => {
      const rejection = reject(JSON.stringify(request({ data: { '+8613800000000': { n: 'a\u0000' } } })));
      expect(rejection.reason).toMatch(/^data\.\[key 1\]\.n: /);
      expect(rejection.reason).not.toContain('8613800000000');
    });

    it.each([
      ['at its top', '{"__proto__":{"x":1}}'],
      ['as it is', '{"form":{"__proto__":"x"}}'],
      ['with its characters escaped', '{"form":[{"\\u005f_pr\\u006fto__":"x"}]}'],
    ])('rejects a key named __proto__ deep in data, %s, which other gateways could not carry', (_case, data) => {
      const text = JSON.stringify(request()).replace(/\}$/, `,"data":${data}}`);
      const rejection = reject(text);
      expect(rejection.code).toBe(ErrorCode.SchemaViolation);
      expect(rejection.reason).toMatch(/^data(\.form(\.0)?)?\.__proto__: a key may not be "__proto__"$/);
    });

    it.each([
      ['a 64-bit id written as an integer', '{"orderId":12345678901234567891}', /^data\.orderId: /],
      ['a negative one, deep down', '{"n":{"list":[1,-9007199254740993]}}', /^data\.n\.list\.1: /],
      ['a number past a double’s range', '{"list":[1,1e400]}', /^data\.list\.1: /],
    ])('rejects %s in data, which would be stored as another number, naming the field', (_case, data, field) => {
      const rejection = reject(JSON.stringify(request()).replace(/\}$/, `,"data":${data}}`));
      expect(rejection.code).toBe(ErrorCode.SchemaViolation);
      expect(rejection.reason).toMatch(field);
      expect(rejection.reason).toMatch(/an integer beyond ±9007199254740991 that a double cannot hold exactly \(send such ones, as 64-bit ids, as strings\)/);
    });

    it('keeps every number JavaScript reads as written: the largest safe integers, larger ones a double holds exactly, doubles with a fraction or an exponent, digits in strings', () => {
      const text = JSON.stringify(request()).replace(
        /\}$/,
        ',"data":{"max":9007199254740991,"min":-9007199254740991,"pi":3.141592653589793,"avogadro":6.02E23,"big":1.0E21,"wei":1500000000000000000,"hundredQuintillion":100000000000000000000,"small":1.5e-20,"id":"12345678901234567891","note":"-12345678901234567891e400","quoted":"say \\"12345678901234567891\\" 99999999999999999"}}',
      );
      expect(accept(text).request.data).toEqual({ max: 9007199254740991, min: -9007199254740991, pi: 3.141592653589793, avogadro: 6.02e23, big: 1e21, wei: 1.5e18, hundredQuintillion: 1e20, small: 1.5e-20, id: '12345678901234567891', note: '-12345678901234567891e400', quoted: 'say "12345678901234567891" 99999999999999999' });
    });

    it('ignores a field the contract does not define, which is never stored', () => {
      const body = { ...request(), 'x-note': 'a\u0000b' };
      expect(accept(JSON.stringify(body)).request).toEqual(request());
    });

    it('accepts the first and the last instant PostgreSQL reads back (the first but one: the first is Go’s zero time, read as absent)', () => {
      const body = request({ sendAt: '0001-01-01T00:00:00.001Z', expiresAt: '9999-12-31T23:59:59.999Z' });
      expect(accept(JSON.stringify(body)).request).toMatchObject({ sendAt: '0001-01-01T00:00:00.001Z', expiresAt: '9999-12-31T23:59:59.999Z' });
    });

    it('accepts paired surrogates (emoji) and an escaped backslash before u0000', () => {
      const body = request({ content: { title: 'Shipped \ud83d\ude9a', body: 'see C:\\u0000\\dir' } });
      expect(accept(JSON.stringify(body)).request.content).toEqual(body.content);
    });
  });

  describe('a request of a type the route table does not know', () => {
    it('is rejected as unknown_type when the table has no default', () => {
      const rejection = reject(JSON.stringify(request({ type: 'promo.spring' })), routesWithoutDefault);
      expect(rejection.code).toBe(ErrorCode.UnknownType);
      expect(rejection.reason).toContain('promo.spring');
    });

    it('is accepted through the default route when the table has one', () => {
      const { request: parsed, route } = accept(JSON.stringify(request({ type: 'promo.spring' })));
      expect(parsed.type).toBe('promo.spring');
      expect(route.type).toBe('default');
      expect(route.channels).toEqual(['websocket', 'push']);
    });
  });

  describe('a rejection', () => {
    it.each<[string, Buffer | string, RouteTable]>([
      ['invalid JSON', 'not json', routes],
      ['a schema violation', JSON.stringify(request({ id: 'bad id' })), routes],
      ['an unknown type', JSON.stringify(request({ type: 'promo.spring' })), routesWithoutDefault],
    ])('after %s carries the original record unchanged', (_case, value, table) => {
      const original = record(value);
      const copy = {
        ...original,
        key: Buffer.from(original.key!),
        value: Buffer.from(original.value!),
        headers: { ...original.headers },
      };
      const parsed = parseRequestRecord(original, table);
      expect(parsed.ok).toBe(false);
      if (parsed.ok) return;
      expect(parsed.rejection.record).toBe(original);
      expect(parsed.rejection.record).toEqual(copy);
    });
  });
});

/** A well-formed address of the given length: labels of at most 63 characters. */
function emailOfLength(length: number): string {
  const domain = `${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.com`;
  return `${'a'.repeat(length - domain.length - 1)}@${domain}`;
}

describe('sendAtProblem', () => {
  const now = new Date('2026-12-03T10:00:00Z');
  const request = (sendAt?: string) => ({ id: 'r-1', type: 'order.shipped', to: { userId: 'u-1' }, priority: 'normal' as const, ...(sendAt ? { sendAt } : {}) });
  const route = (afterMs: number | null, channels = 3) =>
    ({ type: 'order.shipped', channels: ['websocket', 'push', 'sms', 'email'].slice(0, channels), fallback: { policy: 'escalate', afterMs } }) as unknown as Route;

  it('accepts no sendAt, a past one, and one before the retention period ends', () => {
    expect(sendAtProblem(request(), route(null), now, 30)).toBeUndefined();
    expect(sendAtProblem(request('2026-11-01T00:00:00Z'), route(null), now, 30)).toBeUndefined();
    expect(sendAtProblem(request('2027-01-02T09:59:59.999Z'), route(null), now, 30)).toBeUndefined();
  });

  it('refuses a sendAt at or past the retention period, naming the setting', () => {
    expect(sendAtProblem(request('2027-01-02T10:00:00Z'), route(null), now, 30)).toBe(
      'sendAt: the last send must be less than 30 days ahead (MESSAGE_RETENTION_DAYS); messages are deleted after that',
    );
    expect(sendAtProblem(request('2027-06-01T00:00:00Z'), route(null), now, 7)).toMatch(/less than 7 days ahead/);
  });

  it('counts the escalation to the route’s last fallback tier', () => {
    const day = 86_400_000;
    // Tiers 1 and 2 follow a day apart: the last is due two days after sendAt.
    expect(sendAtProblem(request('2026-12-30T09:59:59Z'), route(day), now, 30)).toBeUndefined();
    expect(sendAtProblem(request('2026-12-31T10:00:00Z'), route(day), now, 30)).toMatch(/counting the route’s escalation to its last fallback tier/);
    expect(sendAtProblem(request(), route(31 * day, 2), now, 30)).toMatch(/less than 30 days ahead/);
  });

  it('puts a late last send down to what made it late, not to a sendAt the request does not have', () => {
    const day = 86_400_000;
    const late = 'the last send must be less than 30 days ahead (MESSAGE_RETENTION_DAYS), counting the route’s escalation to its last fallback tier; messages are deleted after that';
    // The route's own escalation: a table loaded without the retention check.
    expect(sendAtProblem(request(), route(31 * day, 2), now, 30)).toBe(`routes.order.shipped.fallback.after: ${late}`);
    // A sendAt already past starts the message now: it is not the cause either.
    expect(sendAtProblem(request('2026-11-01T00:00:00Z'), route(31 * day, 2), now, 30)).toBe(`routes.order.shipped.fallback.after: ${late}`);
    // The request's own channels escalate through more tiers than the route has.
    const withChannels = { ...request(), channels: ['websocket', 'push', 'sms', 'email'] } as ReturnType<typeof request>;
    expect(sendAtProblem(withChannels, route(10 * day, 2), now, 30)).toBe(`channels: ${late}`);
  });

  it('refuses a request whose own channels would release its last tier after its route’s messages expire, naming them', () => {
    const hour = 3_600_000;
    const expiring = { ...route(24 * hour, 2), ttlMs: 36 * hour } as Route;
    const withChannels = (channels: string[]) => ({ ...request(), channels }) as ReturnType<typeof request>;
    expect(sendAtProblem(withChannels(['websocket', 'email']), expiring, now, 30)).toBeUndefined();
    expect(sendAtProblem(withChannels(['websocket', 'email', 'push']), expiring, now, 30)).toBe(
      "channels: with 3 channels the last is released 172800 s after the first, when the route's messages have expired (ttl 129600 s): it would never send",
    );
    // The route's own channels were checked when the table loaded.
    expect(sendAtProblem(request(), expiring, now, 30)).toBeUndefined();
    // A request's own expiresAt stands instead of the route's ttl.
    const lasting = { ...withChannels(['websocket', 'email', 'push']), expiresAt: '2026-12-10T10:00:00Z' } as ReturnType<typeof request>;
    expect(sendAtProblem(lasting, expiring, now, 30)).toBeUndefined();
  });

  it('counts the tiers of the request’s own channels when it names them', () => {
    const day = 86_400_000;
    const withChannels = (sendAt: string, channels: string[]) => ({ ...request(sendAt), channels }) as ReturnType<typeof request>;
    // Four channels of its own: the last tier is three days after sendAt, not two.
    expect(sendAtProblem(withChannels('2026-12-30T10:00:00Z', ['websocket', 'push', 'sms', 'email']), route(day), now, 30)).toMatch(/escalation/);
    // One channel: no escalation, so a sendAt 29 days ahead is fine though the route has three.
    expect(sendAtProblem(withChannels('2027-01-01T10:00:00Z', ['push']), route(day), now, 30)).toBeUndefined();
  });
});
