import { createLogger } from '@notify/observability';
import { afterCommit } from '@notify/persistence';
import { chunksOf, recordingRetry, SEND_LEASE_MS } from './channel-delivery';
import { deliveryJob } from './jobs.spec-helper';

describe('chunksOf', () => {
  const ids = (jobs: { deliveryId: string }[]) => jobs.map((job) => job.deliveryId);
  const job = (n: number) => deliveryJob(n, { deliveryId: `d-${n}` });

  it('puts about `size` jobs under each claim, and never splits a resend batch', () => {
    const singles = Array.from({ length: 5 }, (_, i) => job(i));
    const batch = [job(10), job(11), job(12)];
    const chunks = chunksOf([...singles, ...batch], [batch], 4);
    expect(chunks.map((c) => ids(c.jobs))).toEqual([['d-10', 'd-11', 'd-12', 'd-0'], ['d-1', 'd-2', 'd-3', 'd-4']]);
    expect(chunks.map((c) => ({ singles: ids(c.singles), batches: c.batches.map(ids) }))).toEqual([
      { singles: ['d-0'], batches: [['d-10', 'd-11', 'd-12']] },
      { singles: ['d-1', 'd-2', 'd-3', 'd-4'], batches: [] },
    ]);
  });

  it('keeps a resend batch larger than a chunk whole, on its own', () => {
    const batch = Array.from({ length: 6 }, (_, i) => job(i));
    const chunks = chunksOf([job(9), ...batch], [batch], 4);
    expect(chunks.map((c) => c.jobs.length)).toEqual([6, 1]);
  });

  it('leaves out the jobs that are not live (expired), also from their resend batch', () => {
    const batch = [job(1), job(2)];
    const chunks = chunksOf([job(2), job(3)], [batch], 100);
    expect(chunks.map((c) => ({ singles: ids(c.singles), batches: c.batches.map(ids) }))).toEqual([{ singles: ['d-3'], batches: [['d-2']] }]);
    expect(chunksOf([], [batch], 100)).toEqual([]);
  });
});

describe('recordingRetry', () => {
  const logger = createLogger('channel-delivery-spec', 'silent');

  it('records through a PostgreSQL restart of minutes, and gives up only shortly before the lease ends', async () => {
    let time = 1_000_000;
    const claimedAt = time;
    const clocked = { now: () => time, sleep: async (ms: number) => void (time += ms), random: () => 1 };
    let tries = 0;
    // The database refuses connections for 3 minutes after the claim.
    const record = async () => {
      tries += 1;
      if (time < claimedAt + 180_000) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      return 'recorded';
    };
    await expect(afterCommit('recording outcomes', record, logger, { ...recordingRetry(claimedAt, claimedAt), ...clocked })).resolves.toBe('recorded');
    expect(tries).toBeGreaterThan(8);
    expect(time - claimedAt).toBeLessThanOrEqual(185_000);

    time = claimedAt;
    const down = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    };
    await expect(afterCommit('recording outcomes', down, logger, { ...recordingRetry(claimedAt, claimedAt), ...clocked })).rejects.toThrow('ECONNREFUSED');
    expect(time - claimedAt).toBeLessThan(SEND_LEASE_MS - 30_000);
    expect(time - claimedAt).toBeGreaterThanOrEqual(SEND_LEASE_MS - 30_000 - 5_000);

    // Sends that ran out their 9-minute budget still get 90 s of tries for their record.
    const late = claimedAt + 9 * 60_000;
    time = late;
    await expect(afterCommit('recording outcomes', down, logger, { ...recordingRetry(claimedAt, late), ...clocked })).rejects.toThrow('ECONNREFUSED');
    expect(time - late).toBeGreaterThanOrEqual(90_000 - 5_000);
    expect(time - late).toBeLessThan(90_000);
  });
});

