import { refusedDataState, retryingDeadlocks, writeIsolatingRefusals } from './refused-writes';

const databaseError = (code: string) => Object.assign(new Error(`database error ${code}`), { code });

/**
 * A store that refuses a whole transaction when it holds one of the poisoned items, as PostgreSQL
 * does, and records every transaction it was given.
 */
function fakeStore(poisoned: Set<string>, code = '22007') {
  const transactions: string[][] = [];
  const ingest = async (batch: string[]): Promise<number> => {
    transactions.push(batch);
    if (batch.some((item) => poisoned.has(item))) throw databaseError(code);
    return batch.length;
  };
  return { ingest, transactions };
}

describe('writeIsolatingRefusals', () => {
  const batch = Array.from({ length: 10 }, (_, i) => `r-${i}`);

  it('stores a batch PostgreSQL accepts in one transaction', async () => {
    const store = fakeStore(new Set());
    const result = await writeIsolatingRefusals(store.ingest, batch);
    expect(result).toEqual({ written: [10], refused: [] });
    expect(store.transactions).toHaveLength(1);
  });

  it('stores everything but the refused requests, and names each with its SQLSTATE', async () => {
    const store = fakeStore(new Set(['r-3', 'r-8']), '23514');
    const result = await writeIsolatingRefusals(store.ingest, batch);
    expect(result.written.reduce((a, b) => a + b, 0)).toBe(8);
    expect(result.refused.map((r) => [r.item, r.sqlState])).toEqual([
      ['r-3', '23514'],
      ['r-8', '23514'],
    ]);
    // The committed transactions, in the batch's order.
    const committed = store.transactions.filter((t) => !t.includes('r-3') && !t.includes('r-8')).flat();
    expect(committed).toEqual(['r-0', 'r-1', 'r-2', 'r-4', 'r-5', 'r-6', 'r-7', 'r-9']);
  });

  it('lets any other error fail the whole batch, so Kafka delivers it again', async () => {
    const lost = Object.assign(new Error('Connection terminated unexpectedly'), { code: undefined });
    await expect(writeIsolatingRefusals(() => Promise.reject(lost), batch)).rejects.toBe(lost);
    const store = fakeStore(new Set(['r-0']), '40P01');
    await expect(writeIsolatingRefusals(store.ingest, batch)).rejects.toThrow('database error 40P01');
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

describe('retryingDeadlocks', () => {
  const failing = (codes: (string | undefined)[]) => {
    let calls = 0;
    const transaction = async () => {
      const code = codes[calls++];
      if (code === undefined) return `done after ${calls}`;
      throw Object.assign(new Error(code), { driverError: { code } });
    };
    return { transaction, calls: () => calls };
  };

  it('runs a deadlock’s victim again, up to three times in all', async () => {
    expect(await retryingDeadlocks(failing(['40P01', '40P01']).transaction)).toBe('done after 3');
    const always = failing(['40P01', '40P01', '40P01', '40P01']);
    await expect(retryingDeadlocks(always.transaction)).rejects.toThrow('40P01');
    expect(always.calls()).toBe(3);
  });

  it('lets any other error through at once', async () => {
    const other = failing(['23505']);
    await expect(retryingDeadlocks(other.transaction)).rejects.toThrow('23505');
    expect(other.calls()).toBe(1);
  });
});
