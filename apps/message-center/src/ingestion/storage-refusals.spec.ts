import type { IngestResult, PlannedMessage } from '@notify/persistence';
import { refusedDataState, storeIsolatingRefusals } from './storage-refusals';

/** Only what the isolation looks at: the request id. */
const planned = (requestId: string) => ({ requestId }) as PlannedMessage;
const databaseError = (code: string) => Object.assign(new Error(`database error ${code}`), { code });

/**
 * A store that refuses a whole transaction when it holds one of the poisoned requests, as
 * PostgreSQL does, and records every transaction it was given.
 */
function fakeStore(poisoned: Set<string>, code = '22007') {
  const transactions: string[][] = [];
  const ingest = async (batch: PlannedMessage[]): Promise<IngestResult> => {
    transactions.push(batch.map((m) => m.requestId));
    if (batch.some((m) => poisoned.has(m.requestId))) throw databaseError(code);
    return { jobs: [], events: [], stored: batch.length };
  };
  return { ingest, transactions };
}

describe('storeIsolatingRefusals', () => {
  const batch = Array.from({ length: 10 }, (_, i) => planned(`r-${i}`));

  it('stores a batch PostgreSQL accepts in one transaction', async () => {
    const store = fakeStore(new Set());
    const result = await storeIsolatingRefusals(store.ingest, batch);
    expect(result).toMatchObject({ stored: 10, refused: [] });
    expect(store.transactions).toHaveLength(1);
  });

  it('stores everything but the refused requests, and names each with its SQLSTATE', async () => {
    const store = fakeStore(new Set(['r-3', 'r-8']), '23514');
    const result = await storeIsolatingRefusals(store.ingest, batch);
    expect(result.stored).toBe(8);
    expect(result.refused.map((r) => [r.message.requestId, r.sqlState])).toEqual([
      ['r-3', '23514'],
      ['r-8', '23514'],
    ]);
    const committed = store.transactions.filter((t) => !t.includes('r-3') && !t.includes('r-8')).flat();
    expect(committed.sort()).toEqual(['r-0', 'r-1', 'r-2', 'r-4', 'r-5', 'r-6', 'r-7', 'r-9']);
  });

  it('lets any other error fail the whole batch, so Kafka delivers it again', async () => {
    const lost = Object.assign(new Error('Connection terminated unexpectedly'), { code: undefined });
    await expect(storeIsolatingRefusals(() => Promise.reject(lost), batch)).rejects.toBe(lost);
    const store = fakeStore(new Set(['r-0']), '40P01');
    await expect(storeIsolatingRefusals(store.ingest, batch)).rejects.toThrow('database error 40P01');
    expect(store.transactions).toHaveLength(1);
  });
});

describe('refusedDataState', () => {
  it.each([
    ['22007', '22007'],
    ['22001', '22001'],
    ['23502', '23502'],
    ['23514', '23514'],
    ['54000', '54000'],
    ['23505', undefined],
    ['40001', undefined],
    ['08006', undefined],
    ['57P01', undefined],
  ])('takes SQLSTATE %s as %s', (code, expected) => {
    expect(refusedDataState(databaseError(code))).toBe(expected);
  });

  it('reads the code TypeORM keeps in driverError, and ignores errors without one', () => {
    expect(refusedDataState({ driverError: { code: '22008' } })).toBe('22008');
    expect(refusedDataState(new Error('no code'))).toBeUndefined();
    expect(refusedDataState(null)).toBeUndefined();
  });
});
