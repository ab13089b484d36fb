import type { IngestResult, PlannedMessage } from '@notify/persistence';

/** A request PostgreSQL would not store, and the SQLSTATE it gave. */
export interface StorageRefusal {
  message: PlannedMessage;
  sqlState: string;
}

export type IngestWithRefusals = IngestResult & { refused: StorageRefusal[] };

/**
 * Stores a batch in one transaction. When PostgreSQL refuses it for the data it was given, the
 * cause is one request that validation let through. Retrying the batch would fail the same way
 * forever and stop its partition. So the batch is halved, each half in its own transaction, until
 * the refused requests stand alone. They are returned for the DLQ and the rest is stored. Every
 * other error (a lost connection, a deadlock) fails the whole batch and Kafka delivers it again.
 * Halves that committed before a crash are safe: a replayed request re-publishes its queued deliveries.
 */
export async function storeIsolatingRefusals(
  ingest: (batch: PlannedMessage[]) => Promise<IngestResult>,
  batch: PlannedMessage[],
): Promise<IngestWithRefusals> {
  try {
    return { ...(await ingest(batch)), refused: [] };
  } catch (error) {
    const sqlState = refusedDataState(error);
    if (!sqlState) throw error;
    if (batch.length === 1) return { jobs: [], events: [], stored: 0, refused: [{ message: batch[0]!, sqlState }] };
    const middle = Math.ceil(batch.length / 2);
    const first = await storeIsolatingRefusals(ingest, batch.slice(0, middle));
    const second = await storeIsolatingRefusals(ingest, batch.slice(middle));
    return {
      jobs: [...first.jobs, ...second.jobs],
      events: [...first.events, ...second.events],
      stored: first.stored + second.stored,
      refused: [...first.refused, ...second.refused],
    };
  }
}

/**
 * The SQLSTATE of an error that says the data cannot be stored, whoever sends it: data exceptions
 * (class 22: a value out of range, too long, badly formed), integrity violations (class 23) other
 * than a unique key (a concurrent writer, which a retry resolves), and a value over a limit
 * (54000, such as an index row too large). Otherwise undefined.
 */
export function refusedDataState(error: unknown): string | undefined {
  const code = (error as { code?: unknown; driverError?: { code?: unknown } } | null)?.code ?? (error as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  if (code.startsWith('22') || (code.startsWith('23') && code !== '23505') || code === '54000') return code;
  return undefined;
}
