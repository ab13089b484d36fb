import type { ConsumedRecord } from '@notify/kafka';
import { madeAt, parseUpdate, RECORD_TIME_AHEAD_TOLERANCE_MS } from './recipient-ingestion';

describe("a recipient update's time", () => {
  const now = Date.parse('2026-12-06T12:00:00.000Z');

  it("is its record's time, the same when the batch is applied again later, also a little ahead of this host's clock", () => {
    const earlier = { timestamp: String(now - 1_000) };
    const ahead = { timestamp: String(now + 20_000) };
    expect(madeAt(earlier, now)).toEqual(new Date(now - 1_000));
    expect(madeAt(ahead, now)).toEqual(new Date(now + 20_000));
    // Replayed a minute later: the registration keeps its time, so it does not become the newest.
    expect(madeAt(ahead, now + 60_000)).toEqual(madeAt(ahead, now));
    expect(madeAt({ timestamp: String(now + RECORD_TIME_AHEAD_TOLERANCE_MS) }, now)).toEqual(new Date(now + RECORD_TIME_AHEAD_TOLERANCE_MS));
  });

  it('is now for a record far ahead of this clock, or without a time', () => {
    expect(madeAt({ timestamp: String(now + RECORD_TIME_AHEAD_TOLERANCE_MS + 1) }, now)).toEqual(new Date(now));
    expect(madeAt({ timestamp: String(now + 365 * 86_400_000) }, now)).toEqual(new Date(now));
    expect(madeAt({ timestamp: '-1' }, now)).toEqual(new Date(now));
    expect(madeAt({ timestamp: 'x' }, now)).toEqual(new Date(now));
  });
});

describe('a recipient update record', () => {
  const record = (value: Buffer | null): ConsumedRecord => ({ topic: 'notify.recipients', partition: 0, offset: '7', key: Buffer.from('u-42'), value, headers: {}, timestamp: '1764000000000' });

  it.each([
    ['null (a tombstone)', null],
    ['empty', Buffer.alloc(0)],
  ])('whose value is %s is refused as on notify.requests, not as text that ends too early', (_case, value) => {
    expect(parseUpdate(record(value))).toMatchObject({ code: 'invalid_json', reason: 'empty record value' });
  });

  it('is read as its update', () => {
    expect(parseUpdate(record(Buffer.from('{"op":"subscribe","userId":"u-42","topic":"promotions"}')))).toEqual({ update: { op: 'subscribe', userId: 'u-42', topic: 'promotions' } });
    expect(parseUpdate(record(Buffer.from('{"op":"user-removed","userId":"u-42"}')))).toEqual({ update: { op: 'user-removed', userId: 'u-42' } });
  });
});
