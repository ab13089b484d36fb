import type { DataSource } from 'typeorm';
import { MAX_SYNC_LIMIT, outgoingLink, type ClickLinks, type InboxMessage } from '@notify/contracts';
import type { RecordedOutcome } from './delivery-outcome.store';
import { recordedOutcomeOf } from './recorded-outcome';
import { stageEvents } from './event-outbox';
import { DELIVERY_KEYS, deliveryKeys, inKeysRange, keyedParams, keysOfIds } from './delivery-keys';
import { withUrl } from './delivery-jobs';
import { queryRows, selectJsonRows } from './rows';
import { retryingDeadlocks } from '../refused-writes';

export type InboxPage = { messages: InboxMessage[]; lastSeq: number; hasMore: boolean } | { notModified: true; lastSeq: number };
export type ReadsPage = { ids: string[]; lastReadSeq: number; hasMore: boolean } | { notModified: true; lastReadSeq: number };

/**
 * A sync page stops at the message that takes it past this many bytes of text and data (it holds
 * at least one, up to 64 KiB): 500 messages of 64 KiB would be 32 MiB in one answer, which a
 * gateway holds for as long as the client takes to read it. The rest comes with `hasMore`.
 */
export const MAX_PAGE_BYTES = 512 * 1024;

interface EntryRow {
  seq: string;
  message_id: string;
  type: string;
  title: string | null;
  body: string | null;
  data: Record<string, unknown>;
  url: string | null;
  delivery_id: string | null;
  created_at: Date;
}

/** A user's in-app inbox as clients read it: by sequence number, from PostgreSQL, after any time offline. */
export class InboxStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * The messages after `afterSeq`, oldest first, at most `limit`; or "not modified" when there is
   * nothing newer. A message past its `expiresAt` is not handed out (never delivered after it): its
   * number is a gap, as a message past the retention period leaves one. A message's link is its
   * tracked link (of the user's websocket delivery) when clicks are tracked (`links`). A page ends
   * early, `hasMore` set, once its messages reach `maxBytes`: as sent, or earlier as stored (every
   * locale's text counted, the data as compressed). `lastSeq` is the page's last number while
   * `hasMore` is set, else the user's last number (past gaps the page cannot show).
   */
  async after(userId: string, afterSeq: number, limit: number, links?: ClickLinks | null, maxBytes = MAX_PAGE_BYTES): Promise<InboxPage> {
    const [sequence] = await queryRows<{ last_seq: string }>(this.dataSource, 'SELECT last_seq FROM inbox_sequences WHERE user_id = $1', [userId]);
    const lastSeq = sequence ? Number(sequence.last_seq) : 0;
    if (afterSeq >= lastSeq) return { notModified: true, lastSeq };
    // The rows past what their stored sizes (compressed, as PostgreSQL keeps them) already bring over
    // `maxBytes` are left in the table: a page of 500 large messages cut to a few in the end read and
    // parsed all 500. `fetched` says how many the query took, for `hasMore`; the exact cut is below.
    const rows = await queryRows<EntryRow & { fetched: string }>(
      this.dataSource,
      `SELECT p.seq, p.message_id, p.type, p.contents -> p.locale ->> 'title' AS title, p.contents -> p.locale ->> 'body' AS body,
              p.data, p.created_at, p.contents -> p.locale ->> 'url' AS url,
              CASE WHEN p.contents -> p.locale ? 'url' THEN
                (SELECT d.id FROM deliveries d
                  WHERE d.message_id = p.message_id AND d.created_at = p.created_at AND d.channel = 'websocket'
                    AND d.endpoint = 'inbox:' || p.user_id AND d.user_id = p.user_id
                  LIMIT 1) END AS delivery_id,
              p.fetched
         FROM (SELECT f.*, count(*) OVER () AS fetched
                 FROM (SELECT i.seq, i.message_id, i.user_id, i.locale, i.created_at, m.type, m.contents, m.data,
                              pg_column_size(m.data) + pg_column_size(m.contents) AS stored,
                              sum(pg_column_size(m.data) + pg_column_size(m.contents)) OVER (ORDER BY i.seq ROWS UNBOUNDED PRECEDING) AS stored_so_far
                         FROM inbox_entries i
                         JOIN messages m ON m.id = i.message_id AND m.created_at = i.created_at
                        WHERE i.user_id = $1 AND i.seq > $2 AND (m.expires_at IS NULL OR m.expires_at > now())
                        ORDER BY i.seq
                        LIMIT $3) f) p
        WHERE p.stored_so_far - p.stored < $4
        ORDER BY p.seq`,
      [userId, afterSeq, limit + 1, maxBytes],
    );
    const page = withinBytes(rows.slice(0, limit), maxBytes);
    const hasMore = Number(rows[0]?.fetched ?? 0) > page.length;
    return {
      messages: page.map((row) => ({
        id: row.message_id,
        seq: Number(row.seq),
        type: row.type,
        title: row.title ?? '',
        body: row.body ?? '',
        data: row.data,
        ...withUrl(row.delivery_id ? outgoingLink(links, row.delivery_id, row.url ?? undefined) : row.url),
        createdAt: row.created_at.toISOString(),
      })),
      // A page that stops early ends at its last message: a client asks again with `lastSeq` while
      // `hasMore` is set, and the user's last number would skip the rest. A page that does not ends
      // at the user's last number, or at its own last message when a message stored between the two
      // reads came after that number: a client placed below a message it holds asked for it again.
      lastSeq: hasMore ? Number(page.at(-1)!.seq) : Math.max(lastSeq, Number(page.at(-1)?.seq ?? 0)),
      hasMore,
    };
  }

  /**
   * The ids of the messages the user read after read number `afterReadSeq` (on any device), in the
   * order they were read, at most `limit` (one read's messages are never split: a read marks at most
   * that many); or "not modified" when there is no later read. Reads stored before read numbers were
   * kept (migration 1763600000023) are not here.
   */
  async readsAfter(userId: string, afterReadSeq: number, limit = MAX_SYNC_LIMIT): Promise<ReadsPage> {
    const [counter] = await queryRows<{ last_read_seq: string }>(this.dataSource, 'SELECT last_read_seq FROM inbox_read_sequences WHERE user_id = $1', [userId]);
    const lastReadSeq = counter ? Number(counter.last_read_seq) : 0;
    if (afterReadSeq >= lastReadSeq) return { notModified: true, lastReadSeq };
    const rows = await queryRows<{ message_id: string; read_seq: string }>(
      this.dataSource,
      `SELECT message_id, read_seq FROM inbox_entries WHERE user_id = $1 AND read_seq > $2 ORDER BY read_seq, seq LIMIT $3`,
      [userId, afterReadSeq, limit + 1],
    );
    // Numbers without a message left (reads of messages past the retention period) end the page at
    // the user's last number.
    // (A read stored between the two reads ends it at its own number.)
    if (rows.length <= limit) return { ids: rows.map((row) => row.message_id), lastReadSeq: Math.max(lastReadSeq, Number(rows.at(-1)?.read_seq ?? 0)), hasMore: false };
    const cut = rows[limit]!.read_seq;
    const page = rows.filter((row) => Number(row.read_seq) < Number(cut));
    return { ids: page.map((row) => row.message_id), lastReadSeq: Number(page.at(-1)!.read_seq), hasMore: true };
  }

  /**
   * Marks the user's messages read: the inbox entries, and their websocket deliveries (status `read`,
   * returned as events to publish). Ids that are not in the user's inbox, or read already, are
   * ignored; `read` names the messages read for the first time, which get the user's next read
   * number (`readsAfter`).
   */
  async markRead(userId: string, messageIds: string[]): Promise<{ read: string[]; events: RecordedOutcome[] }> {
    // A message id names its week: only that partition of the user's inbox is read (an id the platform did not make is in no inbox).
    const keys = keysOfIds(messageIds);
    if (keys.length === 0) return { read: [], events: [] };
    // Its deliveries' rows are locked in no set order, as an acknowledgement's are: a read of many
    // overlapping an acknowledged resend batch can deadlock, and is then run again.
    return retryingDeadlocks(() => this.markReadOnce(userId, keys));
  }

  private markReadOnce(userId: string, keys: ReturnType<typeof keysOfIds>): Promise<{ read: string[]; events: RecordedOutcome[] }> {
    return this.dataSource.transaction(async (tx) => {
      // The user's read counter stays locked until the commit: the next read of this user takes its
      // number only once this one is visible, so numbers become visible in their order. Locked first,
      // so the marking below (a statement of its own, with a snapshot taken after the lock) sees the
      // reads committed before it: a message keeps the number of the read that first marked it.
      await tx.query(`INSERT INTO inbox_read_sequences (user_id, last_read_seq) VALUES ($1, 0) ON CONFLICT (user_id) DO NOTHING`, [userId]);
      const [counter] = await queryRows<{ last_read_seq: string }>(tx, `SELECT last_read_seq FROM inbox_read_sequences WHERE user_id = $1 FOR UPDATE`, [userId]);
      const readSeq = Number(counter!.last_read_seq) + 1;
      // Only the entries not read before: a message read again is left as it was (no row rewritten,
      // no event, nothing told to the other devices), so reading the same ids in a loop costs little.
      // Its delivery became `read` in the transaction that first marked it.
      const entries = await queryRows<{ message_id: string; created_at: Date }>(
        tx,
        `UPDATE inbox_entries i SET read_at = now(), read_seq = $5::bigint
           FROM ${DELIVERY_KEYS}
          WHERE i.user_id = $4 AND i.message_id = k.id AND i.created_at = k.created_at AND ${inKeysRange('i')} AND i.read_at IS NULL
          RETURNING i.message_id, i.created_at`,
        [...deliveryKeys(keys), userId, readSeq],
      );
      // A read that marks nothing new takes no number: the other devices' next syncReads is "not modified".
      if (entries.length > 0) await tx.query(`UPDATE inbox_read_sequences SET last_read_seq = $2 WHERE user_id = $1`, [userId, readSeq]);
      const events = await queryRows<{
        id: string; request_id: string; message_id: string; user_id: string; attempts: number; updated_at: Date;
      }>(
        tx,
        // A message read reached the user, whether or not its acknowledgement came first (an offline
        // user's sync showed it): it gets the time it did, as a click does.
        `UPDATE deliveries d SET status = 'read', next_attempt_at = NULL, last_error = NULL, updated_at = now(), delivered_at = COALESCE(d.delivered_at, now())
           FROM (${selectJsonRows([
             ['message_id', 'uuid'],
             ['created_at', 'timestamptz'],
           ])}) AS e, messages m
          WHERE d.message_id = e.message_id AND d.created_at = e.created_at AND ${inKeysRange('d')} AND d.user_id = $4
            AND d.channel = 'websocket' AND d.status NOT IN ('read', 'clicked')
            AND m.id = d.message_id AND m.created_at = d.created_at AND ${inKeysRange('m')}
          RETURNING d.id, m.request_id, d.message_id, d.user_id, d.attempts, d.updated_at`,
        [...keyedParams(entries.map((e) => [e.message_id, e.created_at]), entries.map((e) => e.created_at)), userId],
      );
      return {
        read: entries.map((e) => e.message_id),
        events: await stageEvents(
          tx,
          events.map((row) => recordedOutcomeOf({ ...row, channel: 'websocket', status: 'read', last_error: null })),
        ),
      };
    });
  }
}

/** The first rows, up to and including the one whose text and data reach `maxBytes` (at least one). */
function withinBytes(rows: EntryRow[], maxBytes: number): EntryRow[] {
  let bytes = 0;
  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index]!;
    bytes += Buffer.byteLength(JSON.stringify(row.data)) + Buffer.byteLength(row.title ?? '') + Buffer.byteLength(row.body ?? '') + Buffer.byteLength(row.url ?? '');
    if (bytes >= maxBytes) return rows.slice(0, index + 1);
  }
  return rows;
}
