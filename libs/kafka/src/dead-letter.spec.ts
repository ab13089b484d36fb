import { DlqHeaders, Topics } from '@notify/contracts';
import type { ConsumedRecord } from './batch-consumer';
import { deadLetterMessage, deadLetterTopic } from './dead-letter';

function record(overrides: Partial<ConsumedRecord> = {}): ConsumedRecord {
  return {
    topic: 'notify.requests',
    partition: 5,
    offset: '9007199254740993',
    key: Buffer.from('u-42'),
    value: Buffer.from('{"id":"order-1234-shipped"'),
    headers: { traceparent: Buffer.from('00-abc-def-01'), 'x-producer': 'orders' },
    timestamp: '1764000000000',
    ...overrides,
  };
}

describe('deadLetterMessage', () => {
  it('keeps the key and value unchanged', () => {
    const original = record();
    const message = deadLetterMessage({ record: original, code: 'invalid_json', reason: 'Unexpected end of JSON input' });
    expect(message.key).toEqual(Buffer.from('u-42'));
    expect(message.value).toEqual(Buffer.from('{"id":"order-1234-shipped"'));
  });

  it('keeps a null key and a null value', () => {
    const message = deadLetterMessage({
      record: record({ key: null, value: null }),
      code: 'invalid_json',
      reason: 'empty record value',
    });
    expect(message.key).toBeNull();
    expect(message.value).toBeNull();
  });

  it('gives a header read without a value (null, also inside a list) an empty one, which kafkajs can write back', () => {
    const headers = { traceparent: null, tags: [Buffer.from('a'), null] } as unknown as ConsumedRecord['headers'];
    const message = deadLetterMessage({ record: record({ headers }), code: 'invalid_json', reason: 'x' });
    expect(message.headers).toMatchObject({ traceparent: Buffer.alloc(0), tags: [Buffer.from('a'), Buffer.alloc(0)] });
  });

  it('keeps the original headers and adds the contract error headers', () => {
    const message = deadLetterMessage({
      record: record(),
      code: 'schema_violation',
      reason: 'id: only letters, digits and . _ : - are allowed',
    });
    expect(message.headers).toEqual({
      traceparent: Buffer.from('00-abc-def-01'),
      'x-producer': 'orders',
      'x-error-code': 'schema_violation',
      'x-error-reason': 'id: only letters, digits and . _ : - are allowed',
      'x-original-topic': 'notify.requests',
      'x-original-partition': '5',
      'x-original-offset': '9007199254740993',
      'x-original-timestamp': '1764000000000',
    });
  });

  it('uses the header names of the contract', () => {
    expect(DlqHeaders).toEqual({
      errorCode: 'x-error-code',
      errorReason: 'x-error-reason',
      originalTopic: 'x-original-topic',
      originalPartition: 'x-original-partition',
      originalOffset: 'x-original-offset',
    });
  });

  it('does not change the record it copies', () => {
    const original = record();
    deadLetterMessage({ record: original, code: 'unknown_type', reason: 'no route' });
    expect(original).toEqual(record());
  });

  it('replaces error headers left by an earlier dead-lettering with the current ones', () => {
    const message = deadLetterMessage({
      record: record({ headers: { 'x-error-code': 'old_code', 'x-original-offset': '1' } }),
      code: 'unknown_type',
      reason: 'no route for type "promo.spring"',
    });
    expect(message.headers?.['x-error-code']).toBe('unknown_type');
    expect(message.headers?.['x-original-offset']).toBe('9007199254740993');
  });

  it('cuts a long reason to 1,000 characters, keeping its start and ending in an ellipsis that says it was cut', () => {
    const reason = `id: too long; ${'x'.repeat(100_000)}`;
    const message = deadLetterMessage({ record: record(), code: 'schema_violation', reason });
    const written = message.headers?.['x-error-reason'] as string;
    expect(written).toHaveLength(1000);
    expect(written.endsWith('…')).toBe(true);
    expect(reason.startsWith(written.slice(0, -1))).toBe(true);
  });

  it('cuts a long reason before a character of two UTF-16 units rather than between them', () => {
    // An emoji across the cut: its first half would reach the broker as U+FFFD.
    const reason = `${'x'.repeat(998)}\u{1F4E6}${'y'.repeat(10)}`;
    const written = deadLetterMessage({ record: record(), code: 'schema_violation', reason }).headers?.['x-error-reason'] as string;
    expect(written).toBe(`${'x'.repeat(998)}…`);
  });

  it('keeps a reason of exactly 1,000 characters whole', () => {
    const reason = 'x'.repeat(1000);
    expect(deadLetterMessage({ record: record(), code: 'schema_violation', reason }).headers?.['x-error-reason']).toBe(reason);
  });

  it('keeps a short reason whole', () => {
    const message = deadLetterMessage({ record: record(), code: 'invalid_json', reason: 'empty record value' });
    expect(message.headers?.['x-error-reason']).toBe('empty record value');
  });
});

describe('deadLetterTopic', () => {
  it('appends .dlq to the topic name', () => {
    expect(deadLetterTopic('notify.requests')).toBe('notify.requests.dlq');
    expect(deadLetterTopic('notify.recipients')).toBe('notify.recipients.dlq');
  });

  it('agrees with the topic names of the contracts library', () => {
    expect(deadLetterTopic(Topics.requests)).toBe(Topics.requestsDlq);
    expect(deadLetterTopic(Topics.recipients)).toBe(Topics.recipientsDlq);
  });
});
