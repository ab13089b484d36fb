import type { ConsumedRecord } from './batch-consumer';
import { readJobs } from './delivery-records';

const job = {
  deliveryId: '0198c3a0-0000-7000-8000-000000000001',
  requestId: 'r-1',
  userId: 'u-1',
  channel: 'sms',
  endpoint: '+4915100000000',
  attempt: 1,
  expiresAt: null,
  priority: 'normal',
  locale: 'en',
  message: { id: 'm-1', seq: null, type: 't', title: 'Hi', body: 'There', data: {}, createdAt: '2026-03-01T10:00:00.000Z' },
};

function record(value: unknown, offset: number): ConsumedRecord {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return { topic: 'notify.deliver.sms', partition: 0, offset: String(offset), key: null, value: Buffer.from(text), headers: {}, timestamp: '0' };
}

describe('readJobs', () => {
  it('keeps each delivery once, however often the batch carries it', () => {
    const { jobs, rejections } = readJobs([record(job, 1), record(job, 2)], 'sms');
    expect(jobs).toHaveLength(1);
    expect(rejections).toEqual([]);
  });

  it('rejects what is not JSON, breaks the schema, or belongs to another channel', () => {
    const { jobs, rejections } = readJobs([record('{nope', 1), record({ ...job, attempt: 0 }, 2), record({ ...job, channel: 'email' }, 3)], 'sms');
    expect(jobs).toEqual([]);
    expect(rejections.map((r) => [r.record.offset, r.code])).toEqual([
      ['1', 'invalid_json'],
      ['2', 'schema_violation'],
      ['3', 'schema_violation'],
    ]);
    expect(rejections[2]?.reason).toBe('job for the email channel on the sms topic');
  });

  it('rejects a resend batch holding a job of another user than its own', () => {
    const other = { ...job, deliveryId: '0198c3a0-0000-7000-8000-000000000002', userId: 'u-2' };
    const { jobs, batches, rejections } = readJobs([record({ userId: 'u-1', batch: [job, other] }, 1), record({ userId: 'u-1', batch: [job] }, 2)], 'sms');
    expect(rejections.map((r) => [r.record.offset, r.code, r.reason])).toEqual([['1', 'schema_violation', 'batch: every job of a resend batch is for its userId']]);
    expect(batches).toEqual([[job]]);
    expect([...jobs.values()].map((j) => j.deliveryId)).toEqual([job.deliveryId]);
  });
});
