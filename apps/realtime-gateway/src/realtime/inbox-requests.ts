import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Socket } from 'socket.io';
import type { AckError, ClickLinks, ClientToServerEvents, ReadResponse, ServerToClientEvents, SyncReadsResponse, SyncResponse } from '@notify/contracts';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { InboxStore } from '@notify/persistence';
import { CLICK_LINKS } from '../clicks/click-links';
import { EventPublisher } from '../delivery/event-publisher';
import { busy, CLIENT_EVENTS, internalError, invalidArgument, MAX_WAITING_REQUESTS, missingPayload, ReadRequestSchema, SyncReadsRequestSchema, SyncRequestSchema, unknownEvent } from './client-requests';
import { userRoom } from './rooms';

export interface SocketData {
  userId: string;
  /** When the token is taken for expired (its `exp` plus the clock tolerance, ms since the epoch): the socket is disconnected then. */
  expiresAt: number;
}

export type NotificationSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** How many clients' requests the gateway answers at once (`clientRequestsAtOnce`). */
export const CLIENT_REQUESTS_AT_ONCE = Symbol('CLIENT_REQUESTS_AT_ONCE');

/**
 * How long a client waits for the answer to a request before it gives up: the browser module's
 * request timeout (`REQUEST_TIMEOUT_MS` in libs/client/browser/notification-inbox.js), the two
 * kept equal. A `sync` or `syncReads` that waited longer for its turn is not run: its client has
 * stopped waiting for the answer and asked again, and the query would only hold the retry up behind it.
 */
export const CLIENT_REQUEST_TIMEOUT_MS = 10_000;

/** How many characters of an unknown event's name a log line keeps: the client chose it, and any length. */
const LOGGED_EVENT_NAME = 64;

/** How often a sync waiting for its connection to write out what it was sent looks again. */
const WRITTEN_OUT_POLL_MS = 25;

/**
 * Packets a connection may have waiting to be written before a request of its closes it: its
 * client sends and does not read, and even a `busy` answer would pile up in engine.io's buffer.
 */
export const MAX_UNSENT_PACKETS = 256;

/** How long MAX_UNSENT_PACKETS sent to a connection may wait to be written before it is taken for one that does not read. */
export const UNREAD_GRACE_MS = 5_000;

/**
 * Half the database pool: the rest stays for the deliveries' claims and acknowledgements, also when
 * every client of a gateway just deployed reconnects to this one and syncs at once.
 */
export function clientRequestsAtOnce(databasePoolSize: number): number {
  return Math.max(1, Math.floor(databasePoolSize / 2));
}

/**
 * The client's own requests: `sync` (what is newer than my last sequence number), `read`, and
 * `syncReads` (what my user read elsewhere after my last read number).
 */
@Injectable()
export class InboxRequests {
  private readonly slots: Slots;
  /**
   * A user's requests take one of `slots` at a time, whatever the number of the user's connections:
   * one token opened a thousand times, each connection reading in a loop, took every slot and held
   * every other user's syncs and reads behind its own.
   */
  private readonly usersInTurn = new OnePerKey();
  /** Reads taken and not yet stored: a shutdown stores them before the database closes. */
  private readonly unstoredReads = new Set<Promise<void>>();

  constructor(
    private readonly inbox: InboxStore,
    private readonly publisher: EventPublisher,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(CLICK_LINKS) private readonly links: ClickLinks | null,
    @Inject(CLIENT_REQUESTS_AT_ONCE) atOnce: number,
    /** The time a request arrives and its turn comes (ms since the epoch): no module provides another (`@Optional()`); specs give their own. */
    @Optional() private readonly now: () => number = Date.now,
  ) {
    this.slots = new Slots(atOnce);
  }

  attach(socket: NotificationSocket): void {
    // A sync without an acknowledgement has nowhere to put its page; a read without one (a client's
    // fire-and-forget emit) still counts: it is stored and told to the other devices, unanswered.
    // A request sent with its callback alone (`emit('sync', callback)`) has the callback where the
    // payload goes: it is answered that the payload is missing, not left waiting for ever.
    const connection: Connection = { socket, turns: new OneAtATime(MAX_WAITING_REQUESTS), warnOnce: warningsOnce(this.logger) };
    const notReading = watchUnread(socket, this.logger);
    // `sync` and `syncReads`: pages, answered only while connected.
    const pageRequest = (event: string, page: (payload: unknown) => Promise<unknown>) => (payload: unknown, ack: unknown) => {
      if (notReading()) return;
      if (typeof payload === 'function') void this.answer(payload as Reply, async () => missingPayload());
      else if (typeof ack === 'function') void this.inTurn(connection, event, ack, () => page(payload), true);
      else refusedUnheard(connection.warnOnce, event, 'no acknowledgement callback: the answer has nowhere to go');
    };
    socket.on('sync', pageRequest('sync', (payload) => this.sync(socket, payload)));
    socket.on('syncReads', pageRequest('syncReads', (payload) => this.syncReads(socket, payload)));
    socket.on('read', (payload, ack) => {
      if (notReading()) return;
      if (typeof payload === 'function') return void this.answer(payload as Reply, async () => missingPayload());
      const stored = this.inTurn(connection, 'read', ack, () => this.read(socket, payload), false);
      if (!stored) return;
      this.unstoredReads.add(stored);
      void stored.then(() => this.unstoredReads.delete(stored));
    });
    // onAny sees every event, those above included, just before their own listeners: it answers only
    // the others. (Socket.IO's reserved names never arrive: its parser refuses them.) Socket.IO drops
    // an event nothing listens to: the client's developer finds it in the gateway's logs only if it
    // says so.
    socket.onAny((event: unknown, ...args: unknown[]) => {
      if ((CLIENT_EVENTS as readonly unknown[]).includes(event) || notReading()) return;
      const ack = args.at(-1);
      if (typeof ack === 'function') return void (ack as Reply)(unknownEvent(event));
      connection.warnOnce({ event: String(event).slice(0, LOGGED_EVENT_NAME) }, 'ignored an event the gateway does not handle, sent without an acknowledgement callback; later ones of this connection are not logged');
    });
  }

  /**
   * Stores the reads still waiting for their turn, within `withinMs`, before the database
   * closes; their events are then published with the acknowledgements' (`OutcomeRecorder`). The
   * syncs queued before them are skipped, their connections closing. Called by the realtime server's
   * shutdown once every connection is closed: as a shutdown hook of its own it ran beside that one,
   * at its start, and missed the reads sent while the connections stayed open for their last
   * acknowledgements.
   */
  async storeWaitingReads(withinMs: number): Promise<void> {
    if (this.unstoredReads.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, withinMs)));
    await Promise.race([Promise.all(this.unstoredReads), bound]);
    clearTimeout(timer);
  }

  private async sync(socket: NotificationSocket, payload: unknown): Promise<SyncResponse> {
    const request = SyncRequestSchema.safeParse(payload);
    if (!request.success) return invalidArgument(request.error);
    return this.inbox.after(socket.data.userId, request.data.afterSeq, request.data.limit, this.links);
  }

  private async syncReads(socket: NotificationSocket, payload: unknown): Promise<SyncReadsResponse> {
    const request = SyncReadsRequestSchema.safeParse(payload);
    if (!request.success) return invalidArgument(request.error);
    return this.inbox.readsAfter(socket.data.userId, request.data.afterReadSeq);
  }

  /**
   * Marks messages read for the user and tells the user's other devices. The client is answered once
   * the read is stored: the `read` events are the platform's to publish (`EventPublisher`), not the
   * client's to ask again for (asking again would find nothing left to mark, and the events would
   * never be published).
   */
  private async read(socket: NotificationSocket, payload: unknown): Promise<ReadResponse> {
    const request = ReadRequestSchema.safeParse(payload);
    if (!request.success) return invalidArgument(request.error);
    const { read } = await this.publisher.track(this.inbox.markRead(socket.data.userId, request.data.ids), 'recording reads', (marked) => marked.events);
    if (read.length > 0) socket.to(userRoom(socket.data.userId)).emit('read', { ids: read });
    return { ok: true };
  }

  /**
   * Answers a request in its turn: after its connection's earlier requests, then its user's, then
   * among all clients. Undefined, the request refused `busy`, when its connection has too many waiting.
   * A sync (`onlyWhileConnected`) first waits until its connection has written out what it was sent
   * before: a client that asks and does not read holds one page, not all it asked for. A sync whose
   * connection has closed by its turn has no one to answer; one that has waited longer than
   * CLIENT_REQUEST_TIMEOUT_MS since it arrived is answered `busy` without its query (its client gave
   * up on it and asked again, and Socket.IO's client drops an answer to a request it timed out). In a
   * reconnection wave or a database stall each connection had a dead sync queued per retry, each
   * still run, and the retry behind them timed out in turn. A read is a write the user made: it is
   * stored however long it waited.
   */
  private inTurn(connection: Connection, event: string, ack: unknown, work: () => Promise<unknown>, onlyWhileConnected: boolean): Promise<void> | undefined {
    const { socket, turns, warnOnce } = connection;
    const arrived = this.now();
    const reply = replyTo(warnOnce, event, ack);
    /** Whether the request is done with, unrun: checked at each wait's end, the last just before its query. */
    const passedOver = (): boolean => {
      if (!onlyWhileConnected) return false;
      if (!socket.connected) return true;
      if (this.now() - arrived <= CLIENT_REQUEST_TIMEOUT_MS) return false;
      reply(waitedTooLong());
      return true;
    };
    const done = turns.enqueue(async () => {
      if (onlyWhileConnected) await writtenOut(socket);
      if (passedOver()) return;
      await this.usersInTurn.run(socket.data.userId, async () => {
        if (!passedOver()) await this.slots.run(async () => (passedOver() ? undefined : this.answer(reply, work)));
      });
    });
    if (done) return done;
    if (typeof ack === 'function') ack(busy());
    else warnOnce({ waiting: MAX_WAITING_REQUESTS }, 'reads without an acknowledgement are dropped: their connection has too many requests waiting');
    return undefined;
  }

  private async answer<T>(reply: Reply, work: () => Promise<T>): Promise<void> {
    try {
      reply(await work());
    } catch (error) {
      this.logger.error({ err: error }, 'client request failed');
      reply(internalError());
    }
  }
}

/** The answer to a `sync` or `syncReads` that waited past CLIENT_REQUEST_TIMEOUT_MS: a client that still waits asks again. */
function waitedTooLong(): AckError {
  return { error: { code: 'busy', message: `the request waited more than ${CLIENT_REQUEST_TIMEOUT_MS / 1000} s for its turn, when clients have given up on it; ask again` } };
}

/** A request's acknowledgement callback. */
type Reply = (answer: unknown) => void;

/** One client connection, as its requests see it. */
interface Connection {
  socket: NotificationSocket;
  /** Its requests, answered one at a time. */
  turns: OneAtATime;
  warnOnce: WarnOnce;
}

/** Logs a warning about a connection, unless one with the same message was logged for it before. */
type WarnOnce = (fields: Record<string, unknown>, message: string) => void;

/**
 * A connection's warnings, each message once, never with a payload: a client emitting in a loop
 * would otherwise write the log full.
 */
function warningsOnce(logger: AppLogger): WarnOnce {
  // Made at the first warning: most connections never have one.
  let warned: Set<string> | undefined;
  return (fields, message) => {
    if (warned?.has(message)) return;
    (warned ??= new Set()).add(message);
    logger.warn(fields, message);
  };
}

/** Where the answer to a request goes: its callback, or for a refusal without one, the log. */
function replyTo(warnOnce: WarnOnce, event: string, ack: unknown): Reply {
  if (typeof ack === 'function') return ack as Reply;
  return (answer) => {
    const error = (answer as Partial<AckError> | undefined)?.error;
    // An internal error is logged as it happens, unanswered or not.
    if (error && error.code !== 'internal') refusedUnheard(warnOnce, event, error.message);
  };
}

/** A refusal sent without a callback has no one to hear it: the client's developer finds it in the gateway's logs only if it says so. */
function refusedUnheard(warnOnce: WarnOnce, event: string, problem: string): void {
  warnOnce({ event, problem }, 'refused a client request sent without an acknowledgement callback; later ones of this connection are not logged');
}

/**
 * Watches what waits to be written to the connection, and returns `notReading`, asked before each
 * of its requests: true, and the connection disconnected, while more than MAX_UNSENT_PACKETS wait
 * (its client goes on asking and does not read).
 *
 * Nor may what is sent to it unasked pile up: a client that stops reading and sends nothing (an
 * engine.io pong it sends unasked keeps it connected) would hold every notification and every
 * `read` of its user's other devices in engine.io's buffer, which nothing bounds. A burst sent in
 * one go waits there too until the write before it ends, so a connection is disconnected only when
 * MAX_UNSENT_PACKETS wait and nothing was written out for `UNREAD_GRACE_MS` since they first did.
 * Once disconnected it is out of its user's room: nothing more is sent to it.
 */
function watchUnread(socket: NotificationSocket, logger: AppLogger): () => boolean {
  const notReading = (): boolean => {
    if (unsent(socket).packets <= MAX_UNSENT_PACKETS) return false;
    if (!socket.connected) return true;
    logger.warn({ unsent: MAX_UNSENT_PACKETS }, 'disconnecting a client that does not read what it is sent');
    socket.disconnect(true);
    return true;
  };
  let unread: NodeJS.Timeout | undefined;
  let wroteOut = false;
  const written = () => void (wroteOut = true);
  const sent = () => {
    if (unread !== undefined || !socket.connected || unsent(socket).packets < MAX_UNSENT_PACKETS) return;
    wroteOut = false;
    unread = setTimeout(() => {
      unread = undefined;
      if (!wroteOut) notReading();
      else sent();
    }, UNREAD_GRACE_MS);
  };
  socket.conn.on('packetCreate', sent);
  socket.conn.on('flush', written);
  // The connection may carry this namespace again after this socket's end: its listeners go with it.
  socket.on('disconnect', () => {
    clearTimeout(unread);
    socket.conn.off('packetCreate', sent);
    socket.conn.off('flush', written);
  });
  return notReading;
}

/**
 * Resolves once the connection has handed the network everything queued for it (the client reads
 * what it is sent), or has closed. Engine.io's write buffer has no bound: a client that sent `sync`
 * after `sync` and never read would have every page kept in the gateway's memory until it ran out.
 * (`writeBuffer` is engine.io's own: its types keep it private.)
 */
export async function writtenOut(socket: NotificationSocket, pollMs = WRITTEN_OUT_POLL_MS): Promise<void> {
  for (let left = unsent(socket); socket.connected && !left.closed && (left.packets > 0 || left.writing); left = unsent(socket)) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** What the connection has not handed the network yet: packets waiting, and whether its transport is still writing. */
function unsent(socket: NotificationSocket): { packets: number; writing: boolean; closed: boolean } {
  const connection = socket.conn as unknown as { readyState: string; writeBuffer: unknown[]; transport: { writable: boolean } };
  return { packets: connection.writeBuffer.length, writing: !connection.transport.writable, closed: connection.readyState === 'closed' };
}

/**
 * A connection's requests answered one at a time, in their order, at most `limit` waiting: a
 * client that emits `sync` in a loop holds one of the gateway's database connections, not all of
 * them, and the deliveries' claims and acknowledgements of every other user go on. (All clients
 * together hold at most `clientRequestsAtOnce`.)
 */
export class OneAtATime {
  private tail: Promise<void> = Promise.resolve();
  /** The request being answered and those waiting. */
  private pending = 0;

  constructor(private readonly limit: number) {}

  /**
   * Runs `work` after the requests before it, and resolves when it has; undefined, without running
   * it, when `limit` already wait.
   */
  enqueue(work: () => Promise<void>): Promise<void> | undefined {
    if (this.pending > this.limit) return undefined;
    this.pending += 1;
    // A request that fails is its own answer's to report; the ones after it still get their turn.
    this.tail = this.tail
      .then(work)
      .catch(() => undefined)
      .then(() => void (this.pending -= 1));
    return this.tail;
  }
}

/** The work of one key at a time, in the order asked; a key with nothing left to do is forgotten. */
class OnePerKey {
  private readonly keys = new Map<string, { tail: Promise<void>; pending: number }>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const entry = this.keys.get(key) ?? { tail: Promise.resolve(), pending: 0 };
    this.keys.set(key, entry);
    entry.pending += 1;
    const done = entry.tail.then(work);
    entry.tail = done.then(
      () => this.finished(key, entry),
      () => this.finished(key, entry),
    );
    return done;
  }

  private finished(key: string, entry: { pending: number }): void {
    if ((entry.pending -= 1) === 0) this.keys.delete(key);
  }
}

/** At most `count` pieces of work at once; the others wait their turn, in order. */
class Slots {
  private readonly waiting: (() => void)[] = [];

  constructor(private free: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free -= 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free += 1;
    }
  }
}
