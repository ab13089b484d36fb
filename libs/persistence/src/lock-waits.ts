/**
 * How long DDL waits for a table's lock, partition maintenance's and migrations' alike: a statement
 * waiting for an exclusive lock queues every later statement on its table behind it, so ingest,
 * claims and queries would stand still for as long as the reader it waits for runs.
 */
export const DDL_LOCK_TIMEOUT_MS = 3_000;

/** Whether `error` is PostgreSQL's lock_not_available (SQLSTATE 55P03): a lock_timeout ran out. */
export function lockNotAvailable(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '55P03';
}
