import { chunksOf } from './channel-delivery';
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
