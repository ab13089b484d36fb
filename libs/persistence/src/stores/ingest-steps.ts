import type { DataSource, EntityManager } from 'typeorm';
import type { OutcomeEvent } from '@notify/contracts';
import { newId } from '../ids';
import { placeInInboxes } from './inbox-allocation';
import {
  contentsByLocale,
  decidedOutcomes,
  DELIVERY_COLUMNS,
  deliveryRows,
  MESSAGE_COLUMNS,
  messageRows,
  REQUEST_KEY_COLUMNS,
  type PlannedMessage,
  type Stored,
} from './ingest.store';
import { inSlices, insertJsonRows, jsonRows, queryRows, ROWS_PER_STATEMENT, selectJsonRows, type JsonColumn } from './rows';

/** Awaited after each slice of an audience is committed: where a consumer reports its progress. */
export type SliceStored = () => void | Promise<void>;

/**
 * A batch too large for one statement (a broadcast's audience): in a transaction per slice of at most
 * `ROWS_PER_STATEMENT` users, so that no user's inbox number stays locked while the rest of the
 * audience is written (a one-time code to a subscriber waited for the whole broadcast). A first
 * transaction claims the request keys, stores the new messages and records them as unfinished; each
 * slice then numbers its users' inbox entries and stores all their deliveries; a last one stores the
 * deliveries without a user and ends the requests. A write stopped part-way leaves its requests
 * unfinished, and their replay resumes them (`resumeUnfinished`). Exported, with
 * `storeInOneStatement`, for `npm run bench:ingest-statements`, which compares the two.
 */
export async function storeInSteps(db: DataSource, batch: PlannedMessage[], sliceStored?: SliceStored): Promise<Stored> {
  const fresh = await claim(db, batch);
  const { seqs, readBack, finished } = await storeAudience(db, fresh, sliceStored);
  return { fresh, seqs, readBack, finished };
}

/** What a resume did: how many requests it ended, and the outcomes decided while routing of the deliveries it stored. */
interface Resumed {
  finished: number;
  decided: OutcomeEvent[];
}

/** The stored message of an unfinished request: what a resume stores its plan under. */
interface StoredMessage {
  request_id: string;
  message_id: string;
  created_at: Date;
  expires_at: Date | null;
  locales: string[];
}

/**
 * Stores the rest of the replayed requests in `replayed` that a write stopped part-way: each as
 * planned again, under the id, creation time and expiry of its stored message. Its users stored
 * already are left as they are; its jobs are then read back as any replay's. The outcomes decided
 * while routing of the deliveries it stores are returned: a replay reads back only those decided at
 * the message's creation, not a delivery planned `expired` because the request's expiry has passed
 * since the first pass.
 */
export async function resumeUnfinished(db: DataSource, replayed: PlannedMessage[], sliceStored?: SliceStored): Promise<Resumed> {
  if (replayed.length === 0) return { finished: 0, decided: [] };
  const stored = await queryRows<StoredMessage>(
    db,
    `SELECT k.request_id, k.message_id, k.created_at, m.expires_at, ARRAY(SELECT jsonb_object_keys(m.contents)) AS locales
       FROM unfinished_requests u
       JOIN request_keys k ON k.request_id = u.request_id
       JOIN messages m ON m.id = k.message_id AND m.created_at = k.created_at
      WHERE u.request_id = ANY($1::varchar[])`,
    [replayed.map((m) => m.requestId)],
  );
  if (stored.length === 0) return { finished: 0, decided: [] };
  const storedAs = new Map(stored.map((row) => [row.request_id, row]));
  const unfinished = replayed.flatMap((m) => {
    const message = storedAs.get(m.requestId);
    return message ? [asStored(m, message)] : [];
  });
  await addMissingLocales(db, unfinished, new Map(stored.map((row) => [row.message_id, row.locales])));
  const { finished, decided } = await storeAudience(db, unfinished, sliceStored);
  return { finished, decided };
}

/**
 * Claims the request keys (`ON CONFLICT DO NOTHING` decides which requests are new), stores the new
 * requests' messages and records them as unfinished, and commits. Returns the new requests. The
 * messages' counter trigger takes its counter rows here, with no inbox row held. An unfinished row
 * of an earlier use of a claimed id (retention purged its request key before it) is taken over.
 */
async function claim(db: DataSource, batch: PlannedMessage[]): Promise<PlannedMessage[]> {
  return db.transaction(async (tx) => {
    const claimed = await queryRows<{ request_id: string }>(
      tx,
      `WITH claimed AS (
         ${insertJsonRows('request_keys', REQUEST_KEY_COLUMNS)}
         ON CONFLICT (request_id) DO NOTHING
         RETURNING request_id
       )
       INSERT INTO unfinished_requests (request_id) SELECT request_id FROM claimed
       ON CONFLICT (request_id) DO UPDATE SET claimed_at = EXCLUDED.claimed_at
       RETURNING request_id`,
      [jsonRows(batch.map((m) => [m.requestId, m.id, m.createdAt]))],
    );
    const freshIds = new Set(claimed.map((row) => row.request_id));
    const fresh = batch.filter((m) => freshIds.has(m.requestId));
    if (fresh.length > 0) await tx.query(insertJsonRows('messages', MESSAGE_COLUMNS), [jsonRows(messageRows(fresh))]);
    return fresh;
  });
}

/**
 * A request planned again, to be stored under its stored message: its deliveries' ids carry that
 * message's time, as `newId` promises, and they expire with it (planned anew, without an `expiresAt`
 * of the request's, they would live a time to live from the replay).
 */
function asStored(m: PlannedMessage, stored: StoredMessage): PlannedMessage {
  const createdAt = stored.created_at;
  return { ...m, id: stored.message_id, createdAt, expiresAt: stored.expires_at, deliveries: m.deliveries.map((d) => ({ ...d, id: newId(createdAt) })) };
}

const MESSAGE_CONTENTS_COLUMNS = [
  ['id', 'uuid'],
  ['created_at', 'timestamptz'],
  ['contents', 'jsonb'],
] as const satisfies readonly JsonColumn[];

/**
 * Adds to the stored messages of `unfinished` (their locales by message id in `storedLocales`) the
 * replay's texts in the locales they lack: a user whose locale changed since the first pass is planned
 * in the new one, and their job and inbox entry would find no title or body. The stored texts win
 * (`||` keeps its right side's), so every delivery of a message reads the texts it was stored with.
 */
async function addMissingLocales(db: DataSource, unfinished: PlannedMessage[], storedLocales: Map<string, string[]>): Promise<void> {
  const rows = unfinished.flatMap((m) => {
    const stored = new Set(storedLocales.get(m.id));
    const missing = m.contents.filter((c) => !stored.has(c.locale));
    return missing.length > 0 ? [[m.id, m.createdAt, contentsByLocale(missing)]] : [];
  });
  if (rows.length === 0) return;
  await db.query(
    `UPDATE messages m SET contents = a.contents || m.contents
       FROM (${selectJsonRows(MESSAGE_CONTENTS_COLUMNS)}) AS a
      WHERE m.id = a.id AND m.created_at = a.created_at`,
    [jsonRows(rows)],
  );
}

/** What `storeAudience` did. */
interface AudienceStored {
  /** The inbox numbers given, by `inboxKey`. */
  seqs: Map<string, number>;
  /** Requests to read back: another process stored part of them. */
  readBack: string[];
  /** How many of the requests it ended (not another process). */
  finished: number;
  /** The outcomes decided while routing of the deliveries it stored. */
  decided: OutcomeEvent[];
}

/** Stores the inbox entries and deliveries of unfinished requests, a slice of users per transaction, then ends them. */
async function storeAudience(db: DataSource, messages: PlannedMessage[], sliceStored?: SliceStored): Promise<AudienceStored> {
  const seqs = new Map<string, number>();
  const readBack = new Set<string>();
  const decided: OutcomeEvent[] = [];
  if (messages.length === 0) return { seqs, readBack: [], finished: 0, decided };
  const { slices, unaddressed } = byUserSlices(messages);
  for (const slice of slices) {
    const stored = await db.transaction((tx) => storeSlice(tx, slice));
    for (const [key, seq] of stored.seqs) seqs.set(key, seq);
    for (const requestId of stored.readBack) readBack.add(requestId);
    decided.push(...decidedOutcomes(stored.toStore));
    await sliceStored?.();
  }
  const finished = await db.transaction((tx) => finish(tx, messages, unaddressed));
  for (const requestId of finished.readBack) readBack.add(requestId);
  decided.push(...decidedOutcomes(finished.toStore));
  return { seqs, readBack: [...readBack], finished: finished.ended, decided };
}

/**
 * The messages' inbox placements and deliveries split by user: slices of at most `ROWS_PER_STATEMENT`
 * users in the order JavaScript sorts them (the order every writer of inbox numbers locks them in),
 * each a copy of the messages with only its users' part, in the batch's order (a user's numbers follow
 * it); and the deliveries without a user (`to.phone`, `to.email`).
 */
function byUserSlices(messages: PlannedMessage[]): { slices: PlannedMessage[][]; unaddressed: PlannedMessage[] } {
  const users = new Set<string>();
  for (const m of messages) {
    for (const entry of m.inbox) users.add(entry.userId);
    for (const d of m.deliveries) if (d.userId !== null) users.add(d.userId);
  }
  const sliceOf = new Map([...users].sort().map((userId, rank) => [userId, Math.floor(rank / ROWS_PER_STATEMENT)]));
  const emptied = (m: PlannedMessage): PlannedMessage => ({ ...m, inbox: [], deliveries: [] });
  const parts = Array.from({ length: Math.ceil(users.size / ROWS_PER_STATEMENT) }, () => messages.map(emptied));
  const unaddressed = messages.map(emptied);
  messages.forEach((m, i) => {
    for (const entry of m.inbox) parts[sliceOf.get(entry.userId)!]![i]!.inbox.push(entry);
    for (const d of m.deliveries) (d.userId === null ? unaddressed[i]! : parts[sliceOf.get(d.userId)!]![i]!).deliveries.push(d);
  });
  const hasAny = (m: PlannedMessage) => m.deliveries.length > 0 || m.inbox.length > 0;
  return { slices: parts.map((part) => part.filter(hasAny)), unaddressed: unaddressed.filter(hasAny) };
}

/**
 * One slice of users, in the transaction `tx`: locks the requests' unfinished rows (two processes
 * storing one request take turns), leaves out the users of a request stored already (by the pass a
 * replay resumes, or by another process), numbers the others' inbox entries and stores all their
 * deliveries. The inbox rows are locked before the deliveries' counter trigger takes counter rows, in
 * the order `storeInOneStatement` takes them (its triggers fire at its end), or the two could deadlock.
 */
async function storeSlice(tx: EntityManager, slice: PlannedMessage[]): Promise<{ seqs: Map<string, number>; readBack: string[]; toStore: PlannedMessage[] }> {
  const open = await lockUnfinished(tx, slice);
  const storedBefore = await usersStoredBefore(tx, slice.filter((m) => open.has(m.requestId)));
  const readBack = slice.filter((m) => !open.has(m.requestId) || storedBefore.has(m.id)).map((m) => m.requestId);
  const toStore = slice.filter((m) => open.has(m.requestId)).map((m) => withoutUsers(m, storedBefore.get(m.id)));
  const seqs = await placeInInboxes(
    tx,
    toStore.flatMap((m) => m.inbox.map((entry) => ({ ...entry, messageId: m.id, messageCreatedAt: m.createdAt }))),
  );
  await insertDeliveries(tx, toStore, seqs);
  return { seqs, readBack, toStore };
}

/**
 * The last transaction: stores the deliveries without a user of the requests still unfinished and
 * ends them. Returns how many it ended, those it stored, and the requests another process ended
 * meanwhile (to read back).
 */
async function finish(tx: EntityManager, messages: PlannedMessage[], unaddressed: PlannedMessage[]): Promise<{ ended: number; toStore: PlannedMessage[]; readBack: string[] }> {
  const open = await lockUnfinished(tx, messages);
  const toStore = unaddressed.filter((m) => open.has(m.requestId));
  await insertDeliveries(tx, toStore, new Map());
  await tx.query(`DELETE FROM unfinished_requests WHERE request_id = ANY($1::varchar[])`, [[...open]]);
  return { ended: open.size, toStore, readBack: messages.filter((m) => !open.has(m.requestId)).map((m) => m.requestId) };
}

/**
 * Locks the unfinished rows of the messages' requests, in one order for every process, and returns
 * the request ids still unfinished: a request whose row is gone was ended by another process.
 */
async function lockUnfinished(tx: EntityManager, messages: PlannedMessage[]): Promise<Set<string>> {
  const rows = await queryRows<{ request_id: string }>(
    tx,
    `SELECT request_id FROM unfinished_requests WHERE request_id = ANY($1::varchar[]) ORDER BY request_id FOR UPDATE`,
    [messages.map((m) => m.requestId)],
  );
  return new Set(rows.map((row) => row.request_id));
}

const USER_OF_MESSAGE_COLUMNS = [
  ['user_id', 'varchar'],
  ['message_id', 'uuid'],
  ['created_at', 'timestamptz'],
] as const satisfies readonly JsonColumn[];

/**
 * The users of each message (by message id) that have a delivery of it already. A user's inbox entry
 * and deliveries are stored in one transaction, so such a user is stored: a replay's plan of it (new
 * ids, a held delivery queued now) is left out, and no user gets a second inbox entry.
 */
async function usersStoredBefore(tx: EntityManager, slice: PlannedMessage[]): Promise<Map<string, Set<string>>> {
  const users = slice.flatMap((m) => [...new Set(m.deliveries.map((d) => d.userId!))].map((userId) => [userId, m.id, m.createdAt]));
  if (users.length === 0) return new Map();
  const times = slice.map((m) => m.createdAt.getTime());
  const rows = await queryRows<{ user_id: string; message_id: string }>(
    tx,
    `SELECT DISTINCT d.user_id, d.message_id
       FROM (${selectJsonRows(USER_OF_MESSAGE_COLUMNS)}) AS u
       JOIN deliveries d ON d.user_id = u.user_id AND d.created_at = u.created_at AND d.message_id = u.message_id
      WHERE d.created_at BETWEEN $2 AND $3`,
    [jsonRows(users), new Date(Math.min(...times)), new Date(Math.max(...times))],
  );
  const stored = new Map<string, Set<string>>();
  for (const row of rows) {
    const of = stored.get(row.message_id) ?? new Set<string>();
    stored.set(row.message_id, of.add(row.user_id));
  }
  return stored;
}

/** `m` without the inbox entries and deliveries of `users`. */
function withoutUsers(m: PlannedMessage, users: Set<string> | undefined): PlannedMessage {
  if (!users) return m;
  return { ...m, inbox: m.inbox.filter((entry) => !users.has(entry.userId)), deliveries: m.deliveries.filter((d) => !users.has(d.userId!)) };
}

/** The messages' deliveries, with the inbox numbers in `seqs`, `ROWS_PER_STATEMENT` rows per statement. */
async function insertDeliveries(tx: EntityManager, messages: PlannedMessage[], seqs: Map<string, number>): Promise<void> {
  for (const slice of inSlices(deliveryRows(messages, seqs))) {
    await tx.query(
      `${insertJsonRows('deliveries', [...DELIVERY_COLUMNS, ['seq', 'bigint']])}
       ON CONFLICT ON CONSTRAINT uq_deliveries_target DO NOTHING`,
      [jsonRows(slice)],
    );
  }
}
