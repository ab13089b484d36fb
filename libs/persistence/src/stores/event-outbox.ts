import type { DataSource, EntityManager } from 'typeorm';
import type { OutcomeEvent } from '@notify/contracts';
import type { AppLogger } from '@notify/observability';
import { queryRows } from './rows';

/** One staged row: its id, its database, and how many of its events this process has not published yet. */
interface StagedRow {
  id: string;
  dataSource: DataSource;
  unpublished: number;
}

/**
 * The row each event was staged in, by the event object itself: the events go from the store that
 * made them to the producer unchanged, so nothing has to carry the row's id beside them, and an event
 * dropped on the way takes its entry with it.
 */
const stagedIn = new WeakMap<object, StagedRow>();

/**
 * Stages outcome events in the transaction `tx` that stored their outcomes, as one row of the
 * `event_outbox` (architecture D18): if the writer never publishes them — killed after the commit, or
 * the broker gone for longer than it tries — the relay does. Returns the same events; call
 * `eventsPublished` with them once they are on notify.events.
 */
export async function stageEvents<T extends OutcomeEvent>(tx: EntityManager, events: T[]): Promise<T[]> {
  if (events.length === 0) return events;
  const [row] = await queryRows<{ id: string }>(tx, `INSERT INTO event_outbox (events) VALUES ($1::json) RETURNING id`, [JSON.stringify(events)]);
  const staged: StagedRow = { id: row!.id, dataSource: tx.connection, unpublished: events.length };
  for (const event of events) stagedIn.set(event, staged);
  return events;
}

/** Default time a staged row is left to its writer before the relay publishes it: beyond `afterCommit`'s tries (about 10 minutes). */
export const OUTBOX_RELAY_AFTER_MS = 15 * 60_000;

/**
 * The events are on notify.events: each row all of whose events now are is deleted. Events not
 * staged (or staged by another process) are passed over. Never throws: a row that could not be
 * deleted is published again by the relay later (events are at least once).
 */
export async function eventsPublished(events: readonly object[], logger: AppLogger): Promise<void> {
  const done = new Map<DataSource, string[]>();
  for (const event of events) {
    const row = stagedIn.get(event);
    if (!row) continue;
    stagedIn.delete(event);
    if (--row.unpublished === 0) done.set(row.dataSource, [...(done.get(row.dataSource) ?? []), row.id]);
  }
  for (const [dataSource, ids] of done) {
    try {
      await dataSource.query(`DELETE FROM event_outbox WHERE id = ANY($1::bigint[])`, [ids]);
    } catch (err) {
      logger.warn({ err, rows: ids.length }, 'published events stay in the outbox; the relay will publish them again');
    }
  }
}

/**
 * Publishes the outbox rows staged at least `afterMs` ago (by PostgreSQL's clock), oldest first, at
 * most `limit` rows, and deletes them in the same transaction; a failed `publish` leaves them for the
 * next call. Rows another relay holds are skipped. Returns how many events it published.
 */
export async function relayStagedEvents(
  dataSource: DataSource,
  afterMs: number,
  limit: number,
  publish: (events: OutcomeEvent[]) => Promise<void>,
): Promise<number> {
  return dataSource.transaction(async (tx) => {
    const rows = await queryRows<{ id: string; events: OutcomeEvent[] }>(
      tx,
      `SELECT id, events FROM event_outbox
        WHERE staged_at <= now() - $1 * interval '1 millisecond'
        ORDER BY staged_at, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED`,
      [afterMs, limit],
    );
    if (rows.length === 0) return 0;
    const events = rows.flatMap((row) => row.events);
    await publish(events);
    await tx.query(`DELETE FROM event_outbox WHERE id = ANY($1::bigint[])`, [rows.map((row) => row.id)]);
    return events.length;
  });
}
