import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { Topics } from '@notify/contracts';
import { registerCompressionCodecs } from '@notify/kafka';
import { eventually } from '@notify/testing';
import { InvalidNotificationRequest } from './invalid-request';
import { NotifyClient } from './notify-client';

const brokers = process.env.KAFKA_BROKERS!.split(',');
// The topic holds requests other tests produced with every codec Kafka has (a Java producer's lz4, zstd…).
registerCompressionCodecs();

describe('NotifyClient', () => {
  let client: NotifyClient;
  const seen = new Map<string, string | null>();
  const kafka = new Kafka({ clientId: 'client-spec-reader', brokers, logLevel: logLevel.NOTHING });
  const reader = kafka.consumer({ groupId: `client-spec-${randomBytes(4).toString('hex')}` });

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [Topics.requests, Topics.recipients].map((topic) => ({ topic, numPartitions: 3 })), waitForLeaders: true });
    await admin.disconnect();
    client = await NotifyClient.connect({ brokers, clientId: 'client-spec' });
    await reader.connect();
    await reader.subscribe({ topics: [Topics.requests], fromBeginning: true });
    await reader.run({
      eachMessage: async ({ message }) => {
        const text = message.value?.toString() ?? '';
        // Other tests leave requests (some deliberately broken) on the same topic.
        if (!text.includes('"client-')) return;
        const value = JSON.parse(text) as { id?: string };
        if (value.id) seen.set(value.id, message.key?.toString() ?? null);
      },
    });
  });
  afterAll(async () => {
    await reader.disconnect();
    await client.disconnect();
  });

  it('produces a valid request keyed by its user id, and a multi-user request keyed by its id', async () => {
    const single = `client-${randomBytes(4).toString('hex')}`;
    const many = `client-${randomBytes(4).toString('hex')}`;
    await client.sendMany([
      { id: single, type: 'order.shipped', to: { userId: 'u-7' } },
      { id: many, type: 'order.shipped', to: { userIds: ['u-7', 'u-8'] } },
    ]);
    await eventually(async () => seen.size, () => seen.has(single) && seen.has(many));
    expect(seen.get(single)).toBe('u-7');
    expect(seen.get(many)).toBe(many);
  });

  it('produces a batch larger than the broker takes in one record batch: 20 requests of nearly 64 KiB for one user', async () => {
    const ids = Array.from({ length: 20 }, () => `client-${randomBytes(4).toString('hex')}`);
    // Of random bytes, so no compression would have saved the single call.
    const data = { blob: randomBytes(47_000).toString('base64') };
    await client.sendMany(ids.map((id) => ({ id, type: 'order.shipped', to: { userId: 'u-large' }, data })));
    await eventually(async () => ids.filter((id) => seen.has(id)).length, (n) => n === ids.length);
    expect(ids.map((id) => seen.get(id))).toEqual(ids.map(() => 'u-large'));
  });

  it('rejects an invalid request before producing anything, naming each bad field', async () => {
    const good = `client-${randomBytes(4).toString('hex')}`;
    const attempt = client.sendMany([
      { id: good, type: 'order.shipped', to: { userId: 'u-9' } },
      { id: 'has spaces', type: '', to: { userId: 'u-9' } },
    ]);
    await expect(attempt).rejects.toBeInstanceOf(InvalidNotificationRequest);
    await expect(attempt).rejects.toMatchObject({ problems: [expect.stringMatching(/^id: /), expect.stringMatching(/^type: /)] });
    // A later request on the same key arrives; the rejected batch never did.
    const marker = `client-${randomBytes(4).toString('hex')}`;
    await client.send({ id: marker, type: 'order.shipped', to: { userId: 'u-9' } });
    await eventually(async () => seen.has(marker), Boolean);
    expect(seen.has(good)).toBe(false);
  });

  it('refuses what the message center would dead-letter although its schema passes, and takes the nulls it takes', async () => {
    const request = (data: Record<string, unknown>) => ({ id: `client-${randomBytes(4).toString('hex')}`, type: 'order.shipped', to: { userId: 'u-10' }, data });
    let deep: unknown = 'bottom';
    for (let i = 0; i < 33; i++) deep = [deep];
    const refused = [
      // A body cut inside an emoji: JSON.stringify writes the lone surrogate as \ud83d.
      [{ ...request({}), content: { body: 'Order shipped 😀'.slice(0, 15) } }, /^content\.body: .*unpaired UTF-16 surrogate/],
      [request({ note: 'a\u0000b' }), /^data\.note: .*U\+0000/],
      [request(JSON.parse('{"__proto__": {"admin": true}}') as Record<string, unknown>), /^data\.__proto__: /],
      [request({ deep }), /nest deeper than 32 levels/],
    ] as const;
    for (const [bad, problem] of refused) {
      await expect(client.send(bad as never)).rejects.toMatchObject({ problems: [expect.stringMatching(problem)] });
    }
    await expect(
      client.updateRecipient({ op: 'device', userId: 'u-10', deviceId: 'd-1', provider: 'fcm', token: 'token\ud800' }),
    ).rejects.toMatchObject({ problems: [expect.stringMatching(/^token: .*unpaired UTF-16 surrogate/)] });
    // A Java or .NET producer's nulls for absent fields, which the platform reads as absent.
    const withNulls = { ...request({}), to: { userId: 'u-10', topic: null }, locale: null, sendAt: null };
    await client.send(withNulls as never);
    await eventually(async () => seen.has(withNulls.id), Boolean);
    expect(seen.get(withNulls.id)).toBe('u-10');
    expect(refused.some(([bad]) => seen.has(bad.id))).toBe(false);
  });

  it('stamps each recipient update with the time it was called, not the time its turn came to be produced', async () => {
    const userId = `client-stamp-${randomBytes(4).toString('hex')}`;
    const stamps = new Map<string, number>();
    const recipients = kafka.consumer({ groupId: `client-spec-recipients-${randomBytes(4).toString('hex')}` });
    await recipients.connect();
    await recipients.subscribe({ topics: [Topics.recipients], fromBeginning: true });
    await recipients.run({
      eachMessage: async ({ message }) => {
        if (message.key?.toString() !== userId) return;
        const { deviceId } = JSON.parse(message.value!.toString()) as { deviceId: string };
        stamps.set(deviceId, Number(message.timestamp));
      },
    });
    try {
      // Called together: the second waits for the first's produce to finish before its own goes out.
      const calledFrom = Date.now();
      const produced = [1, 2, 3].map((n) => client.updateRecipient({ op: 'device', userId, deviceId: `d-${n}`, provider: 'fcm', token: `token-${userId}-${n}` }));
      const calledUntil = Date.now();
      await Promise.all(produced);
      await eventually(async () => stamps.size, (n) => n === 3, { timeoutMs: 60_000 });
      for (const stamp of stamps.values()) {
        expect(stamp).toBeGreaterThanOrEqual(calledFrom);
        expect(stamp).toBeLessThanOrEqual(calledUntil);
      }
    } finally {
      await recipients.disconnect();
    }
  });
});
