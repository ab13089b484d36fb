import { loadSync, type MessageTypeDefinition } from '@grpc/proto-loader';
import { NOTIFY_PROTO_LOADER_OPTIONS } from '@notify/contracts';
import type { StoredDelivery, StoredMessage } from '@notify/persistence';
import { toWireMessage, wireBytesBound } from './message.wire';

describe('wireBytesBound', () => {
  const definitions = loadSync('notify/v1/message_query.proto', NOTIFY_PROTO_LOADER_OPTIONS);
  const Message = definitions['notify.v1.Message'] as MessageTypeDefinition<object, object>;
  const encodedBytes = (message: StoredMessage): number => (Message.serialize(toWireMessage(message)) as Buffer).length;

  const at = new Date('2026-12-05T10:00:00.123Z');
  const delivery = (endpoint: string, lastError: string | null): StoredDelivery => ({
    id: '019aa9b5-1f2e-7c3d-8e4f-0123456789ab',
    userId: 'user-42',
    channel: 'push',
    endpoint,
    tier: 1,
    status: 'failed',
    attempts: 2_000_000_000,
    lastError,
    createdAt: at,
    updatedAt: at,
    deliveredAt: at,
    nextAttemptAt: at,
    expiresAt: at,
  });
  const message = (overrides: Partial<StoredMessage>): StoredMessage => ({
    id: '019aa9b5-1f2e-7c3d-8e4f-0123456789aa',
    requestId: 'req-1',
    type: 'order.shipped',
    recipient: { userId: 'user-42' },
    data: {},
    contents: { en: { title: 'Hello', body: 'World' } },
    locale: 'en',
    priority: 'normal',
    sendAt: at,
    expiresAt: at,
    createdAt: at,
    deliveries: [delivery('fcm:token', null)],
    ...overrides,
  });

  it.each([
    ['a small message', message({})],
    ['numbers, booleans and nulls, nested', message({ data: { n: -1.5e300, big: 2 ** 53, yes: true, no: false, none: null, deep: { a: [[1, [2, { b: [null] }]], {}] } } })],
    ['text outside ASCII', message({ data: { emoji: '📦🚚'.repeat(500), cjk: '配送済み'.repeat(300) }, contents: { ja: { title: '荷物', body: '到着しました🎉'.repeat(200) }, ar: { title: 'مرحبا', body: 'تم الشحن' } } })],
    ['an array of numbers', message({ data: { v: Array.from({ length: 5_000 }, (_, i) => i * 1.5) } })],
    ['many short fields', message({ data: Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i % 2 ? i : ''])) })],
    ['a topic of user ids', message({ recipient: { userIds: Array.from({ length: 1_000 }, (_, i) => `user-${i}`) } })],
    ['many deliveries', message({ deliveries: Array.from({ length: 300 }, (_, i) => delivery(`apns:${'f'.repeat(64)}${i}`, i % 2 ? 'unregistered' : null)) })],
  ])('is at least the encoded size of %s', (_name, stored) => {
    const encoded = encodedBytes(stored);
    expect(wireBytesBound(stored)).toBeGreaterThanOrEqual(encoded);
  });

  it('stays within a few times the encoded size of plain text, so a page is not cut far too soon', () => {
    const stored = message({ data: { note: 'x'.repeat(60_000) }, contents: { en: { title: 'T', body: 'y'.repeat(60_000) } } });
    const encoded = encodedBytes(stored);
    expect(wireBytesBound(stored)).toBeLessThanOrEqual(3 * encoded + 1_000);
  });
});
