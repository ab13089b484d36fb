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
    if (--row.unpublished > 0) continue;
    const ids = done.get(row.dataSource) ?? [];
    ids.push(row.id);
    done.set(row.dataSource, ids);
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
 * Publishes one outbox row staged at least `afterMs` ago (by PostgreSQL's clock), the oldest not
 * taken, and deletes it. The row is first taken, in a transaction of its own, for `leaseMs` per
 * `eventsPerLease` of its events (per produce call, each of which the caller may try for minutes),
 * so no transaction stays open while `publish` runs (a broker that is slow to answer would hold back
 * vacuum, and the writer's own `DELETE` of the row would wait on it); several relays skip each
 * other's rows. A failed `publish` leaves the row taken until its lease ends, then it is published
 * again. Returns how many events it published, or undefined when no row was due.
 */
export async function relayStagedRow(
  dataSource: DataSource,
  afterMs: number,
  lease: { leaseMs: number; eventsPerLease: number },
  publish: (events: OutcomeEvent[]) => Promise<void>,
): Promise<number | undefined> {
  const [row] = await queryRows<{ id: string; events: OutcomeEvent[] }>(
    dataSource,
    `UPDATE event_outbox o
        SET taken_until = now() + ceil(json_array_length(o.events) / $3::numeric) * $2 * interval '1 millisecond'
      WHERE o.id = (SELECT id FROM event_outbox
                     WHERE staged_at <= now() - $1 * interval '1 millisecond' AND (taken_until IS NULL OR taken_until <= now())
                     ORDER BY staged_at, id
                     LIMIT 1
                     FOR UPDATE SKIP LOCKED)
      RETURNING o.id, o.events`,
    [afterMs, lease.leaseMs, lease.eventsPerLease],
  );
  if (!row) return undefined;
  await publish(row.events);
  await dataSource.query(`DELETE FROM event_outbox WHERE id = $1`, [row.id]);
  return row.events.length;
}
