import { randomUUID } from 'node:crypto';
import { DeliveryBatchSchema, DeliveryJobSchema, type Channel, type DeliveryJob } from '@notify/contracts';
import type { ResendBatch } from '@notify/persistence';
import type { TopicMessages } from 'kafkajs';
import { resendSlices } from './resend-records';

function job(userId: string | null, seq: number, data: Record<string, unknown> = {}, channel: Channel = 'websocket'): DeliveryJob {
  return DeliveryJobSchema.parse({
    deliveryId: randomUUID(),
    requestId: `r-${seq}`,
    userId,
    channel,
    endpoint: userId ? `inbox:${userId}` : '+15550100',
    attempt: 2,
    expiresAt: null,
    priority: 'normal',
    locale: 'en',
    message: { id: randomUUID(), seq, type: 'account.note', title: `title ${seq}`, body: 'body', data, createdAt: '2026-12-03T10:00:00.000Z' },
  });
}

const batchOf = (jobs: DeliveryJob[], channel: Channel = 'websocket', digest = false): ResendBatch => ({ userId: jobs[0]!.userId, channel, digest, jobs });
/** One receiver's records, as a claim of that receiver alone produces them. */
const resendRecords = (batch: ResendBatch, maxBytes?: number): TopicMessages => {
  const topics = [...resendSlices([batch], Infinity, maxBytes)].flat();
  return { topic: topics[0]!.topic, messages: topics.flatMap((t) => t.messages) };
};
const values = (batch: ResendBatch, maxBytes?: number) => resendRecords(batch, maxBytes).messages.map((m) => ({ key: m.key, value: String(m.value) }));

describe('resendRecords', () => {
  it('puts a receiver’s messages in one batch record, the same JSON as a DeliveryBatch', () => {
    const jobs = [1, 2, 3].map((seq) => job('u-1', seq));
    expect(resendRecords(batchOf(jobs)).topic).toBe('notify.deliver.websocket');
    expect(values(batchOf(jobs))).toEqual([{ key: 'u-1', value: JSON.stringify({ userId: 'u-1', batch: jobs }) }]);
  });

  it('splits a batch too big for one record into several, in order, each under the limit', () => {
    // 30 messages with about 60 KB of data each: 1.8 MB, more than the broker takes in one record.
    const jobs = Array.from({ length: 30 }, (_, i) => job('u-big', i + 1, { blob: 'x'.repeat(60_000) }));
    // With the default bound: each record under the contract's 512 KiB.
    const records = values(batchOf(jobs));
    expect(records.length).toBeGreaterThan(3);
    for (const record of records) {
      expect(record.key).toBe('u-big');
      expect(Buffer.byteLength(record.value)).toBeLessThanOrEqual(512 * 1024);
    }
    const batches = records.map((r) => DeliveryBatchSchema.parse(JSON.parse(r.value)));
    expect(batches.flatMap((b) => b.batch)).toEqual(jobs);
  });

  it('puts an email digest of messages with large data in one record: a digest reads no data', () => {
    const jobs = Array.from({ length: 12 }, (_, i) => job('u-mail', i + 1, { blob: 'x'.repeat(60_000) }, 'email'));
    const records = values(batchOf(jobs, 'email', true));
    expect(records).toHaveLength(1);
    const batch = DeliveryBatchSchema.parse(JSON.parse(records[0]!.value));
    expect(batch.batch.map((j) => [j.message.seq, j.message.data])).toEqual(jobs.map((j) => [j.message.seq, {}]));
  });

  it('puts a push summary of messages with large data in one record: a push carries no such data', () => {
    const large = Array.from({ length: 10 }, (_, i) => job('u-phone', i + 1, { blob: 'x'.repeat(60_000) }, 'push'));
    const small = job('u-phone', 11, { orderNo: '1234' }, 'push');
    const records = values(batchOf([...large, small], 'push'));
    expect(records).toHaveLength(1);
    const batch = DeliveryBatchSchema.parse(JSON.parse(records[0]!.value));
    // Left out, and marked so that the push tells the app to sync; data a push can carry travels.
    expect(batch.batch.map((j) => [j.message.seq, j.message.data, j.message.dataOmitted])).toEqual([
      ...large.map((j) => [j.message.seq, {}, true]),
      [11, { orderNo: '1234' }, undefined],
    ]);
  });

  it('sends each message on its own when the route asks for no digest, or when there is no user to gather them by', () => {
    const sms = [1, 2].map((seq) => job('u-2', seq, {}, 'sms'));
    expect(values(batchOf(sms, 'sms'))).toEqual(sms.map((j) => ({ key: 'u-2', value: JSON.stringify(j) })));
    const digest = values(batchOf(sms, 'sms', true));
    expect(digest).toHaveLength(1);
    expect(DeliveryBatchSchema.parse(JSON.parse(digest[0]!.value)).batch).toEqual(sms);
    const bare = job(null, 1, {}, 'sms');
    expect(values({ userId: null, channel: 'sms', digest: true, jobs: [bare] })).toEqual([{ key: 'r-1', value: JSON.stringify(bare) }]);
  });
});

describe('resendSlices', () => {
  /** `receivers` receivers' batches of `jobs` jobs, whose data notes each job when it is serialized. */
  function claim(receivers: number, jobs: number, serialized: string[]): ResendBatch[] {
    return Array.from({ length: receivers }, (_, r) =>
      batchOf(
        Array.from({ length: jobs }, (_, i) => {
          const parsed = job(`u-${r}`, i + 1);
          const data = {};
          Object.defineProperty(data, 'n', { enumerable: true, get: () => (serialized.push(parsed.deliveryId), 1) });
          return { ...parsed, message: { ...parsed.message, data } };
        }),
      ),
    );
  }

  it('serializes a claim a slice of at most 500 jobs at a time, cut between receivers’ records', () => {
    const serialized: string[] = [];
    const batches = claim(5, 200, serialized);
    const slices = resendSlices(batches);

    const first = slices.next();
    // The first slice goes out before the last receivers' jobs exist as JSON.
    expect(first.done).toBe(false);
    expect(serialized.length).toBeLessThan(1_000);
    const all: TopicMessages[][] = [first.value as TopicMessages[], ...slices];
    const jobsIn = (slice: TopicMessages[]) => slice.flatMap((t) => t.messages).reduce((n, m) => n + DeliveryBatchSchema.parse(JSON.parse(String(m.value))).batch.length, 0);
    expect(all.map(jobsIn)).toEqual([400, 400, 200]);
    // Each receiver's records are the ones it would have had on its own.
    expect(all.flatMap((slice) => slice.flatMap((t) => t.messages.map((m) => m.key)))).toEqual(['u-0', 'u-1', 'u-2', 'u-3', 'u-4']);
    expect(serialized).toHaveLength(1_000);
  });

  it('gives a receiver’s batch of more than 500 jobs in one record a slice of its own, and splits no record', () => {
    const serialized: string[] = [];
    const [big] = claim(1, 700, serialized);
    const [small] = claim(1, 10, serialized);
    const slices = [...resendSlices([small!, big!, small!])];
    expect(slices.map((slice) => slice.flatMap((t) => t.messages).length)).toEqual([1, 1, 1]);
    expect(slices[1]![0]!.messages[0]!.value).toBe(resendRecords(big!).messages[0]!.value);
  });
});
