/** An item PostgreSQL would not store, and the SQLSTATE it gave. */
export interface RefusedWrite<T> {
  item: T;
  sqlState: string;
}

export interface IsolatedWrites<T, R> {
  /** What each transaction that committed returned, in order. */
  written: R[];
  refused: RefusedWrite<T>[];
}

/**
 * Writes a batch in one atomic write (`write`: one statement or one transaction). When PostgreSQL
 * refuses it for the data it was given, the cause is one item that validation let through. Retrying
 * the batch would fail the same way forever and stop its Kafka partition. So the batch is halved,
 * each half written on its own, until the refused items stand alone. They are returned for the DLQ and the rest is written,
 * in the original order. Every other error (a lost connection, a deadlock) fails the whole batch,
 * and Kafka delivers it again.
 */
export async function writeIsolatingRefusals<T, R>(write: (batch: T[]) => Promise<R>, batch: T[]): Promise<IsolatedWrites<T, R>> {
  try {
    return { written: [await write(batch)], refused: [] };
  } catch (error) {
    const sqlState = refusedDataState(error);
    if (!sqlState) throw error;
    if (batch.length === 1) return { written: [], refused: [{ item: batch[0]!, sqlState }] };
    const middle = Math.ceil(batch.length / 2);
    const first = await writeIsolatingRefusals(write, batch.slice(0, middle));
    const second = await writeIsolatingRefusals(write, batch.slice(middle));
    return { written: [...first.written, ...second.written], refused: [...first.refused, ...second.refused] };
  }
}

/**
 * The SQLSTATE of an error that says the data cannot be stored, whoever sends it: data exceptions
 * (class 22: a value out of range, too long, badly formed), integrity violations (class 23) other
 * than a unique key (a concurrent writer, which a retry resolves), and a value over a limit
 * (54000, such as an index row too large). Otherwise undefined.
 */
export function refusedDataState(error: unknown): string | undefined {
  const code = sqlStateOf(error);
  if (code === undefined) return undefined;
  if (code.startsWith('22') || (code.startsWith('23') && code !== '23505') || code === '54000') return code;
  return undefined;
}

/**
 * Runs a transaction again, up to `attempts` times in all, when PostgreSQL chose it as a deadlock's
 * victim (40P01): the other transaction has gone on, and this one, run again, goes through. For a
 * write not on a path that retries on its own (a browser's `read` is answered, not retried).
 */
export async function retryingDeadlocks<T>(transaction: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await transaction();
    } catch (error) {
      if (sqlStateOf(error) !== '40P01' || attempt >= attempts) throw error;
    }
  }
}

/** The SQLSTATE of a PostgreSQL error, from pg or through TypeORM's wrapper. */
function sqlStateOf(error: unknown): string | undefined {
  const carrier = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = carrier?.code ?? carrier?.driverError?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
