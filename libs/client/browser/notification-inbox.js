// @ts-check
/**
 * The browser side of the notification inbox, for application teams: connects to the realtime
 * gateway, acknowledges what it has stored, shows each message once (de-duplicated by id), keeps
 * the last sequence number it holds without a gap, and syncs what it missed after any time
 * offline. With a token function it connects again by itself when the gateway ends the connection
 * at the token's expiry or refuses a token, asking the function for a fresh one each time.
 * Plain ES module; needs only a Socket.IO v4 client (`io`).
 *
 * @typedef {{ id: string, seq: number, type: string, title: string, body: string, data: Record<string, unknown>, url?: string, createdAt: string }} InboxMessage
 * @typedef {{ getItem(key: string): string | null, setItem(key: string, value: string): void, removeItem?: (key: string) => void }} InboxStorage
 * @typedef {{
 *   io: (url: string, options: object) => any,
 *   url: string,
 *   token: string | (() => string | Promise<string>),
 *   userId?: string,
 *   deviceId?: string,
 *   storage?: InboxStorage,
 *   pageSize?: number,
 *   syncRetryMs?: number,
 *   maxHeld?: number,
 *   onMessages?: (messages: InboxMessage[]) => void,
 *   onRead?: (ids: string[]) => void,
 *   onStatus?: (status: 'connected' | 'disconnected' | 'error', detail?: string) => void,
 * }} InboxOptions
 */

const NAMESPACE = '/notifications';
/** The gateway answers at most this many messages per sync page, and marks at most this many read per request. */
const MAX_PAGE = 500;
/** A failed sync or connection is tried again after 1 s, then twice as long each time, up to this. */
const MAX_RETRY_MS = 30_000;
/** Messages held in memory by default; the oldest already counted in `lastSeq` go first. */
const MAX_HELD = 1_000;
/** How many of the messages counted in `lastSeq` are saved across a reload, at most: the newest (fewer when storage is full, see save()). */
const SAVED_COUNTED = 200;
/**
 * How long a request waits for its answer before it fails with `timeout`. The gateway does not run a
 * `sync` or `syncReads` that waited longer than this for its turn (`CLIENT_REQUEST_TIMEOUT_MS` in
 * apps/realtime-gateway/src/realtime/inbox-requests.ts, kept equal): its answer would come too late.
 */
const REQUEST_TIMEOUT_MS = 10_000;
/** How long a save remembers how many messages storage refused (see save()). */
const REFUSAL_MEMORY_MS = 60_000;

/** Waits that start at `firstMs` (at least 100 ms) and double on each failure, up to MAX_RETRY_MS, until reset. */
class Backoff {
  /** @param {number} firstMs */
  constructor(firstMs) {
    // 0 would never grow: a refused token or a failing sync would be tried again in a tight loop.
    this.firstMs = Math.max(Number(firstMs) || 0, 100);
    this.nextMs = this.firstMs;
  }
  /** @returns {number} the wait before the next try */
  next() {
    const wait = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, MAX_RETRY_MS);
    return wait;
  }
  reset() {
    this.nextMs = this.firstMs;
  }
}

/** The user a token names (`sub`), read without checking it: the gateway checks it. @param {string} token */
function subjectOf(token) {
  return readSubject(token) ?? 'anonymous';
}

/**
 * An id as a part of a storage key: the characters `reserved` matches (the key's separators and '%')
 * written as %XX, so two different ids never give the same key.
 * @param {string} id @param {RegExp} reserved
 */
function keyPart(id, reserved) {
  return id.replace(reserved, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** @param {string} token @returns {string | undefined} its `sub`, when it can be read */
function readSubject(token) {
  try {
    const payload = token.split('.')[1] ?? '';
    // atob gives a character per byte: the payload is UTF-8 (a `sub` such as józef).
    const bytes = Uint8Array.from(atob(payload.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
    const sub = JSON.parse(new TextDecoder().decode(bytes)).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A place as save() writes it, checked: what cannot be read throws. One saved before read numbers
 * were kept has none: 0. A message the user had read is saved marked `read`, and the place says it
 * carries such marks (`readMarks`): one saved by a version before them has read messages unmarked.
 * @typedef {{ lastSeq: number, lastReadSeq: number, readMarks: boolean, messages: (InboxMessage & { read?: boolean })[] }} SavedPlace
 * @param {string} saved @returns {SavedPlace}
 */
function readPlace(saved) {
  const place = JSON.parse(saved);
  if (!Number.isSafeInteger(place.lastSeq) || place.lastSeq < 0 || !Array.isArray(place.messages)) throw new Error('not an inbox');
  if (!place.messages.every((m) => typeof m?.id === 'string' && Number.isSafeInteger(m.seq))) throw new Error('a message without id or seq');
  const lastReadSeq = Number.isSafeInteger(place.lastReadSeq) && place.lastReadSeq > 0 ? place.lastReadSeq : 0;
  return { lastSeq: place.lastSeq, lastReadSeq, readMarks: place.readMarks === true, messages: place.messages };
}

export class NotificationInbox {
  /** @param {InboxOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {Map<string, InboxMessage>} */
    this.messages = new Map();
    /** @type {Set<number>} sequence numbers held above the gap-free prefix */
    this.ahead = new Set();
    /** @type {Set<string>} the messages held that the user has read, on this device or another; saved with them */
    this.readIds = new Set();
    if (typeof options.token === 'function' && !options.userId) throw new TypeError('a token function needs userId: the inbox keeps its place per user');
    const userId = options.userId ?? subjectOf(/** @type {string} */ (options.token));
    const named = typeof options.token === 'string' ? readSubject(options.token) : undefined;
    if (named !== undefined && named !== userId) throw new TypeError(`the token is for ${named}, not for userId ${userId}`);
    this.userId = userId;
    // Per user and device: what one user has seen says nothing about another's sequence numbers. And
    // per gateway: a page that talks to two installations (staging and production on one origin)
    // would otherwise sync one from the other's place, and miss what lies below it.
    // The ids are escaped where they hold a separator (':' between them, '@' before the gateway), so
    // user 'a:b' on device 'c' never reads the place of user 'a' on device 'b:c'. Ids without one
    // keep the key the versions before gave them.
    const deviceId = String(options.deviceId ?? 'default');
    const place = `notify-inbox:${keyPart(String(userId), /[%:]/g)}:${keyPart(deviceId, /[%:@]/g)}`;
    const gateway = String(options.url).replace(/\/+$/, '');
    this.key = `${place}@${gateway}`;
    // The keys of the versions before, which held the ids as they are: with this gateway, and before
    // that without one. Taken over, then removed, when the device id has no separator: only another
    // device id with one could have written the same key (a user 'tenant:42' keeps the place saved
    // before the upgrade, instead of being shown the whole inbox again).
    const before = `notify-inbox:${userId}:${deviceId}`;
    /** @type {string[]} */
    this.legacyKeys = /[%:@]/.test(deviceId) ? [] : [`${before}@${gateway}`, before].filter((key) => key !== this.key);
    this.legacyForgotten = false;
    this.lastSeq = 0;
    /** The user's last read (on any device) that `onRead` has told of: `syncReads` asks for those after it. */
    this.lastReadSeq = 0;
    /** @type {number | undefined} how many messages counted in `lastSeq` the last save kept (see save()) */
    this.fitCounted = undefined;
    /** The fewest counted messages storage refused to save, and when: remembered for REFUSAL_MEMORY_MS. */
    this.refusedCounted = SAVED_COUNTED + 1;
    this.refusedAt = -Infinity;
    /** @type {{ value: string, place: SavedPlace } | undefined} what this tab saved last */
    this.written = undefined;
    this.restore();
    /** @type {Promise<boolean>} the last sync queued, and whether it got the server's answers */
    this.syncing = Promise.resolve(true);
    /** @type {number | undefined} the size of the sync pages after a timeout, until the sync has caught up */
    this.pageLimit = undefined;
    /** Pages that arrived since the page size last changed, how many make it grow, and whether it grew last. */
    this.pagesArrived = 0;
    this.pageGrowAfter = 2;
    this.pageGrown = false;
    this.syncQueued = false;
    /** @type {Promise<void>} the last syncReads queued */
    this.readsSyncing = Promise.resolve();
    this.readsQueued = false;
    this.socket = null;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    this.syncBackoff = new Backoff(options.syncRetryMs ?? 1_000);
    /** @type {ReturnType<typeof setTimeout> | undefined} a syncReads that failed, asked again */
    this.readsRetryTimer = undefined;
    this.readsBackoff = new Backoff(options.syncRetryMs ?? 1_000);
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.reconnectTimer = undefined;
    this.reconnectBackoff = new Backoff(options.syncRetryMs ?? 1_000);
    this.closed = false;
  }

  /**
   * Opens the connection; on every (re)connection it syncs from the last sequence number it holds.
   * The token is asked for at every connection attempt, Socket.IO's own reconnections included.
   */
  connect() {
    const { io, url, deviceId } = this.options;
    this.closed = false;
    // `https://gw.example/` as given: Socket.IO would read `//notifications` as the namespace and be refused.
    const socket = io(`${String(url).replace(/\/+$/, '')}${NAMESPACE}`, {
      auth: (/** @type {(auth: object) => void} */ give) =>
        void this.currentToken().then(
          (token) => give({ token, deviceId }),
          // Without a token the gateway refuses the connection, which is then tried again.
          (/** @type {Error} */ error) => (this.status('error', `token function failed: ${error.message}`), give({ deviceId })),
        ),
      transports: ['websocket'],
      // The longest wait between two reconnections (Socket.IO's default, set here so it stays tied to
      // the gateway): a gateway that has just started, or whose peer has just left, waits
      // GATEWAY_RECONNECT_WINDOW_MS (7 s: this plus a margin) before it takes a user for offline.
      reconnectionDelayMax: 5_000,
    });
    this.socket = socket;
    socket.on('connect', () => {
      this.reconnectBackoff.reset();
      this.status('connected');
      void this.sync();
    });
    socket.on('disconnect', (/** @type {string} */ reason) => {
      this.status('disconnected', reason);
      // A syncReads asked again later belongs to this connection: fired on the next one, it ran beside
      // that connection's sync and named messages of pages not received yet (their reads were lost).
      // The next connection asks for the reads once its sync has reached the end.
      clearTimeout(this.readsRetryTimer);
      // Socket.IO reconnects by itself after a lost connection, not after the server ended it
      // (the gateway does at the token's expiry).
      if (reason === 'io server disconnect') this.reconnectLater();
    });
    socket.on('connect_error', (/** @type {Error} */ error) => {
      this.status('error', error.message);
      // A refusal by the gateway (an expired token) is not tried again by Socket.IO itself.
      if (socket.active === false) this.reconnectLater();
    });
    socket.on('notification', (/** @type {InboxMessage} */ message, /** @type {Function} */ ack) => void this.receiveSent([message], ack));
    socket.on('notifications', (/** @type {InboxMessage[]} */ messages, /** @type {Function} */ ack) => void this.receiveSent(messages, ack));
    socket.on('read', (/** @type {{ ids: string[] }} */ payload) => this.tellRead(payload.ids));
    return this;
  }

  /**
   * Tells the page; its callback failing changes nothing here (a sync or an acknowledgement that a
   * throwing callback skipped would be missed for good). @private
   * @param {'connected' | 'disconnected' | 'error'} status @param {string} [detail]
   */
  status(status, detail) {
    try {
      this.options.onStatus?.(status, detail);
    } catch {
      // The page's to fix.
    }
  }

  disconnect() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.readsRetryTimer);
    clearTimeout(this.reconnectTimer);
    this.socket?.disconnect();
  }

  /**
   * The token to connect with. One a token function gives for another user (the page signed in as
   * someone else but kept this inbox) is refused: the connection would join that user's room while
   * this inbox keeps this user's place, and its sync would skip that user's messages up to it.
   * @private @returns {Promise<string>}
   */
  async currentToken() {
    const { token } = this.options;
    if (typeof token !== 'function') return token;
    const fresh = await token();
    const sub = readSubject(fresh);
    if (sub !== undefined && sub !== this.userId) throw new Error(`the token is for another user than this inbox's (${this.userId}): make an inbox for that user`);
    return fresh;
  }

  /**
   * Connects again after the server ended the connection or refused it, when a fresh token can
   * help: only a token function can give one, the same string would be refused again. @private
   */
  reconnectLater() {
    if (this.closed || typeof this.options.token !== 'function') return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (!this.closed) this.socket?.connect();
    }, this.reconnectBackoff.next());
  }

  /**
   * Asks for everything after the last gap-free sequence number, page by page, until nothing is newer.
   * A page holds, in order, every message the server still has after `afterSeq`: a number missing
   * from it is gone for good (past the retention period), so the place moves to the page's end.
   * A sync that fails (an error answer, no answer, an exception) is reported through `onStatus` and
   * tried again later while connected: messages that went to push while this device was offline
   * reach the inbox only this way.
   */
  sync() {
    return this.syncAnswered().then((answered) => (answered ? this.syncReadsQueued() : undefined));
  }

  /**
   * sync(), telling whether it got the server's answers to the end: the outcome of this sync, not
   * of whichever ended last. @private @returns {Promise<boolean>}
   */
  syncAnswered() {
    // One waiting behind the one running is enough: it starts from the place the running one reached.
    if (this.syncQueued) return this.syncing;
    this.syncQueued = true;
    // One sync at a time; one that failed, however it failed, does not stop the ones after it.
    const run = () => ((this.syncQueued = false), this.syncPages());
    this.syncing = this.syncing.then(run, run).then(
      () => {
        this.syncBackoff.reset();
        this.pageLimit = undefined;
        return true;
      },
      (/** @type {Error} */ error) => {
        this.status('error', `sync failed: ${error.message}`);
        // Not connected: the next connection syncs anyway.
        if (this.socket && this.socket.connected !== false) {
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => void this.sync(), this.syncBackoff.next());
        }
        return false;
      },
    );
    return this.syncing;
  }

  /**
   * A page that has not arrived within the request's timeout (a slow link, large messages) would not
   * arrive in time when asked for again either: after a timeout the pages asked for are half as
   * large, down to one message, until the sync has caught up; the next sync asks for full pages again.
   * Pages grow back, twice as large after every `pageGrowAfter` that arrived, so a sync that a server's
   * stall shrank does not finish its backlog a few messages at a time; a grown page that times out
   * makes the next growth wait twice as long, so a slow link is not probed at every other page.
   * @private
   */
  async syncPages() {
    const most = Math.min(Math.max(Math.floor(this.options.pageSize ?? 100), 1), MAX_PAGE);
    for (;;) {
      const afterSeq = this.lastSeq;
      const limit = Math.min(this.pageLimit ?? most, most);
      const answer = await this.request('sync', { afterSeq, limit });
      // Only a page asked for and not delivered while connected says the link is too slow for it:
      // an emit held while disconnected times out too.
      if (answer.error?.code === 'timeout' && this.socket?.connected !== false) this.shrinkPages(limit);
      if (answer.error) throw new Error(`${answer.error.code}: ${answer.error.message}`);
      this.pageArrived(most);
      // A reset was found while the page was on its way (`forget`): the page is from the old place,
      // and taking it would move the place past what the reset inbox holds before it.
      if (this.lastSeq < afterSeq) continue;
      if (answer.notModified) {
        // The server's numbers end below ours: its inbox was reset (a restored or new database).
        // What we hold says nothing about its numbers any more; start again from its beginning.
        if (answer.lastSeq < afterSeq) {
          this.forget();
          continue;
        }
        return;
      }
      this.receive(answer.messages, false);
      const end = answer.messages.length > 0 ? answer.messages[answer.messages.length - 1].seq : answer.lastSeq;
      this.advanceTo(end);
      this.save();
      if (!answer.hasMore || answer.messages.length === 0 || this.lastSeq <= afterSeq) return;
    }
  }

  /**
   * syncReads(), one at a time, one queued behind the one running (it starts from the read place the
   * running one reached). Apart from the messages' syncs: a message waiting for a sync to be placed
   * (receiveSent) waits for the messages, not for the reads. @private @returns {Promise<void>}
   */
  syncReadsQueued() {
    if (this.readsQueued) return this.readsSyncing;
    this.readsQueued = true;
    const run = () => ((this.readsQueued = false), this.syncReads());
    this.readsSyncing = this.readsSyncing.then(run).catch((/** @type {Error} */ error) => this.status('error', `syncReads failed: ${error.message}`));
    return this.readsSyncing;
  }

  /**
   * Tells `onRead` what the user read on other devices while this one was away (the gateway's `read`
   * event reaches only the devices connected at the time): the reads after `lastReadSeq`, asked for
   * once the messages are synced, so that they name messages this inbox holds (a message carries no
   * read state). One that fails, however (`busy`, `timeout`, `internal`: what a reconnection wave or
   * a database's stall gives), is reported, the messages staying synced, and asked again after a wait
   * (`readsBackoff`) while connected: the next sync may be hours away on a steady connection, and the
   * reads made on other devices would stay unshown until then. A disconnection ends the retries: the
   * next connection syncs, and asks for the reads, anew. @private
   */
  async syncReads() {
    const connected = () => !this.closed && !!this.socket && this.socket.connected !== false;
    for (;;) {
      const afterReadSeq = this.lastReadSeq;
      const answer = await this.request('syncReads', { afterReadSeq });
      if (answer.error) {
        this.status('error', `syncReads failed: ${answer.error.code}: ${answer.error.message}`);
        if (connected()) {
          clearTimeout(this.readsRetryTimer);
          this.readsRetryTimer = setTimeout(() => void (connected() && this.syncReadsQueued()), this.readsBackoff.next());
        }
        return;
      }
      this.readsBackoff.reset();
      // The read place was reset meanwhile (a sync found the server's messages reset): ask again from there.
      if (this.lastReadSeq !== afterReadSeq) continue;
      if (answer.notModified) {
        // The server's read numbers end below ours (a restored or new database): start again from 0.
        if (answer.lastReadSeq >= afterReadSeq) return;
        this.lastReadSeq = 0;
        this.save('reads');
        continue;
      }
      if (answer.ids.length > 0) this.tellRead(answer.ids);
      this.lastReadSeq = answer.lastReadSeq;
      this.save();
      if (!answer.hasMore || this.lastReadSeq <= afterReadSeq) return;
    }
  }

  /**
   * Drops the place: the next sync starts from the server's first number. The messages held stay
   * known by id (a restored copy still has most of them, under the same ids), but at number 0: their
   * numbers say nothing about the server's any more. @private
   */
  forget() {
    for (const [id, message] of this.messages) this.messages.set(id, { ...message, seq: 0 });
    this.ahead.clear();
    this.lastSeq = 0;
    // The same restore reset the read numbers: those below the place held would be skipped.
    this.lastReadSeq = 0;
    this.save('place');
  }

  /**
   * Marks messages read here and on the user's other devices, in requests of at most 500 ids (the
   * most the gateway takes in one); the first error ends it and is the answer.
   * @param {string[]} ids
   */
  async markRead(ids) {
    for (let first = 0; first < ids.length; first += MAX_PAGE) {
      const page = ids.slice(first, first + MAX_PAGE);
      const answer = await this.request('read', { ids: page });
      if (answer.error) return answer;
      this.keepRead(page);
    }
    return { ok: true };
  }

  /**
   * Whether the user has read the message (held by this inbox): marked here, or told of by another
   * device or a sync. Kept across a reload with the message: the reads already told are not told again.
   * @param {string} id
   */
  isRead(id) {
    return this.readIds.has(id);
  }

  /** Notes the reads of messages held, and saves them when any is new. @private @param {string[]} ids */
  keepRead(ids) {
    const before = this.readIds.size;
    for (const id of ids) if (this.messages.has(id)) this.readIds.add(id);
    if (this.readIds.size > before) this.save();
  }

  /** @returns {InboxMessage[]} every message held, oldest first */
  list() {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  /**
   * Stores what the server sent (`notification`, `notifications`), then acknowledges it. A message at
   * or below `lastSeq`, not held, at a number no message held has, is either an old one sent again
   * after this inbox let it go (from memory, or across a reload that saved only the newest) or a new
   * one from a server whose inbox was reset below this place (a restored database): only the server's
   * last number tells them apart. So a sync runs first, one that starts after the message came (one
   * already running may have been answered before the reset); its check of the server's number finds
   * a reset, and the message is shown. When it finds none, the message was seen. The acknowledgement
   * waits: it says the messages are stored, and one for a message skipped by mistake records it
   * delivered, never shown. A sync that fails leaves such a message undecided and the whole batch
   * unacknowledged: the server sends it again later. So does a connection that ended while the sync
   * ran: Socket.IO would send the acknowledgement on the next connection, perhaps to another gateway,
   * where its number could match an emit of that gateway's still waiting for its answer. @private
   * @param {InboxMessage[]} incoming @param {Function | undefined} ack
   */
  async receiveSent(incoming, ack) {
    const arrivedOn = this.socket?.id;
    /** @type {InboxMessage[]} */
    const unsure = [];
    this.receive(incoming, true, unsure);
    if (unsure.length > 0) {
      const answered = await this.syncAnswered();
      /** @type {InboxMessage[]} */
      const undecided = [];
      this.receive(unsure, true, answered ? undefined : undecided);
      // Not waited for: a reset that sync found has put the read place back to 0.
      if (answered) void this.syncReadsQueued();
      if (undecided.length > 0 || this.socket?.id !== arrivedOn) return;
    }
    ack?.({ ok: true });
  }

  /**
   * Keeps and shows what it has not seen. Seen means held (by id) or at or below `lastSeq`: every
   * sequence number up to it has arrived, even if only the newest messages were kept across a reload.
   * @param {InboxMessage[]} incoming
   * @param {boolean} [fillGaps] whether a message beyond a gap starts a sync (not while one runs)
   * @param {InboxMessage[]} [unsure] where a message at or below `lastSeq` goes, rather than being
   * taken for seen, when neither it nor any message at its number is held (see receiveSent)
   */
  receive(incoming, fillGaps = true, unsure) {
    /** @type {InboxMessage[]} */
    const fresh = [];
    for (const message of incoming) {
      if (this.messages.has(message.id)) continue;
      // A new message at a number that holds another one: the server's inbox was reset (a restored
      // database) while this connection stayed; its numbers start again, and so does the place.
      if (message.seq <= this.lastSeq && this.holdsOtherAt(message)) this.forget();
      else if (message.seq <= this.lastSeq && unsure) unsure.push(message);
      if (message.seq <= this.lastSeq) continue;
      this.messages.set(message.id, message);
      this.ahead.add(message.seq);
      fresh.push(message);
    }
    this.advanceTo(this.lastSeq);
    if (fresh.length > 0) {
      this.trim();
      this.save();
      // Held and saved: a failing callback is the page's to fix, and must not cost the acknowledgement.
      try {
        this.options.onMessages?.(fresh);
      } catch (error) {
        this.status('error', `onMessages failed: ${/** @type {Error} */ (error).message}`);
      }
    }
    // A message still beyond a gap means some were missed: fetch them.
    if (fillGaps && this.ahead.size > 0 && fresh.length > 0) void this.sync();
  }

  /** Tells `onRead`; a failing callback is the page's to fix, and must not stop a sync. @private @param {string[]} ids */
  tellRead(ids) {
    this.keepRead(ids);
    try {
      this.options.onRead?.(ids);
    } catch (error) {
      this.status('error', `onRead failed: ${/** @type {Error} */ (error).message}`);
    }
  }

  /** Whether a message held has the number of `message` and another id. @private @param {InboxMessage} message */
  holdsOtherAt(message) {
    for (const held of this.messages.values()) if (held.seq === message.seq) return held.id !== message.id;
    return false;
  }

  /** After a sync page timed out while connected. @private @param {number} limit the page's size */
  shrinkPages(limit) {
    if (this.pageGrown) this.pageGrowAfter *= 2;
    if (this.pageLimit === undefined) this.pageGrowAfter = 2;
    this.pageLimit = Math.max(1, Math.floor(limit / 2));
    this.pagesArrived = 0;
    this.pageGrown = false;
  }

  /** After a sync page arrived: smaller pages grow back. @private @param {number} most */
  pageArrived(most) {
    if (this.pageLimit === undefined || ++this.pagesArrived < this.pageGrowAfter) return;
    this.pageLimit = Math.min(this.pageLimit * 2, most);
    this.pagesArrived = 0;
    this.pageGrown = true;
  }

  /** Every number up to `seq` is held or gone; then on through the numbers held without a gap. @param {number} seq */
  advanceTo(seq) {
    if (seq > this.lastSeq) {
      this.lastSeq = seq;
      for (const held of this.ahead) if (held <= seq) this.ahead.delete(held);
    }
    while (this.ahead.delete(this.lastSeq + 1)) this.lastSeq += 1;
  }

  /**
   * Keeps at most `maxHeld` messages in memory, dropping the oldest already counted in `lastSeq`:
   * those stay recognised by their number, so a resent one is still not shown twice. @private
   */
  trim() {
    const excess = this.messages.size - Math.max(1, Math.floor(this.options.maxHeld ?? MAX_HELD));
    if (excess <= 0) return;
    const counted = [...this.messages.values()].filter((m) => m.seq <= this.lastSeq).sort((a, b) => a.seq - b.seq);
    for (const message of counted.slice(0, excess)) {
      this.messages.delete(message.id);
      this.readIds.delete(message.id);
    }
  }

  /** @param {string} event @param {object} payload @returns {Promise<any>} */
  request(event, payload) {
    return new Promise((resolve) => {
      if (!this.socket) return resolve({ error: { code: 'not_connected', message: 'connect() first' } });
      this.socket.timeout(REQUEST_TIMEOUT_MS).emit(event, payload, (/** @type {Error|null} */ error, /** @type {any} */ answer) =>
        resolve(error ? { error: { code: 'timeout', message: error.message } } : answer),
      );
    });
  }

  /**
   * Takes back the saved place and messages: under the key of this gateway, or else under a key of
   * the versions before (`legacyKeys`), so an upgrade does not show the whole inbox again.
   * What cannot be read (another program's value, a cut write) is reported and left: the inbox then
   * starts from nothing rather than not at all.
   */
  restore() {
    /** @type {string | null | undefined} */
    let saved;
    for (const key of [this.key, ...this.legacyKeys]) if ((saved = this.options.storage?.getItem(key))) break;
    if (!saved) return;
    /** @type {ReturnType<typeof readPlace>} */
    let place;
    try {
      place = readPlace(saved);
    } catch (error) {
      this.status('error', `ignored the saved inbox, which cannot be read: ${/** @type {Error} */ (error).message}`);
      return;
    }
    const { lastSeq, lastReadSeq, readMarks, messages } = place;
    this.lastSeq = lastSeq;
    // Saved without read marks (by the version before them): the reads are told again, once, so the
    // messages read before come back marked.
    this.lastReadSeq = readMarks ? lastReadSeq : 0;
    for (const saved of messages) {
      const { read, ...message } = saved;
      this.messages.set(message.id, message);
      if (read === true) this.readIds.add(message.id);
      // Held beyond a gap: counted once the gap is filled.
      if (message.seq > lastSeq) this.ahead.add(message.seq);
    }
  }

  /**
   * Removes the places saved under the keys of the versions before once this inbox's own is saved:
   * left, the one without a gateway was taken over again by the inbox of any other gateway the page
   * talked to later, and each kept its share of the storage quota.
   */
  forgetLegacyPlace() {
    if (this.legacyForgotten) return;
    this.legacyForgotten = true;
    for (const key of this.legacyKeys) {
      try {
        this.options.storage?.removeItem?.(key);
      } catch {
        // Storage that refuses a removal keeps the old place; this inbox has its own now.
      }
    }
  }

  /**
   * Keeps the place, the newest 200 messages counted in it and every message held beyond a gap: those
   * are seen only by id until the gap is filled, so one left out would be shown again by the sync that
   * fills it. Storage that refuses (its quota: messages may carry 64 KiB of data each, and 200 of them
   * are more than a browser's 5 MB) is asked to keep as many of the counted ones, the newest, as last
   * fit, then half as many again and again down to none, then the place alone: kept whole or not at
   * all, an old place stayed, and every reload showed again what came after it; kept without any
   * counted message, a reload held none even when storage had room for many. For a minute the next
   * saves start one below the fewest refused, so they find the most that fit a refused write at a time
   * and then write no refused megabytes at every message; then they try the most again, in case
   * storage has room. Any refusal is reported, not thrown.
   * The tabs of a page share the place saved (one user, device and gateway). One that is behind (its
   * sync still running) would move it back below what another tab saved, and a reload would show
   * again what came between: the place saved never moves back except on a deliberate reset, and what
   * the other tab saved beyond this one's place is kept with it.
   * @param {'place' | 'reads'} [reset] dropped on purpose, and saved as it is, however low: the whole
   * place (forget()), or the read place alone (the server's read numbers found reset)
   */
  save(reset) {
    let lastSeq = this.lastSeq;
    let held = this.list();
    const saved = reset === 'place' ? undefined : this.savedPlace();
    // Another tab's read place is taken with its marks only: saved by the version before them, its
    // reads would be skipped here and never marked.
    const lastReadSeq = reset === 'reads' || !saved?.readMarks ? this.lastReadSeq : Math.max(this.lastReadSeq, saved.lastReadSeq);
    /** The messages another tab saved marked read, which this one may not have been told of yet. */
    const readElsewhere = new Set(saved?.messages.filter((m) => m.read === true).map((m) => m.id));
    if (saved && saved.lastSeq > lastSeq) {
      const beyond = saved.messages.filter((m) => m.seq > this.lastSeq && !this.messages.has(m.id));
      held = [...held, ...beyond].sort((a, b) => a.seq - b.seq);
      lastSeq = saved.lastSeq;
    }
    const counted = held.filter((m) => m.seq <= lastSeq);
    const ahead = held.filter((m) => m.seq > lastSeq);
    const store = (/** @type {InboxMessage[]} */ messages) => {
      const marked = messages.map((m) => (this.readIds.has(m.id) || readElsewhere.has(m.id) ? { ...m, read: true } : m));
      const place = { lastSeq, lastReadSeq, readMarks: true, messages: marked };
      const value = JSON.stringify(place);
      this.options.storage?.setItem(this.key, value);
      this.written = { value, place };
    };
    const counts = this.countsToTry(counted.length);
    const tries = counts.map((kept) => [...counted.slice(counted.length - kept), ...ahead]);
    // At the last, the place alone (then only the messages beyond a gap are shown again after a reload).
    if (ahead.length > 0) tries.push([]);
    /** @type {Error | undefined} */
    let refusal;
    for (const [index, messages] of tries.entries()) {
      try {
        store(messages);
      } catch (error) {
        refusal = /** @type {Error} */ (error);
        continue;
      }
      this.fitCounted = counts[index] ?? 0;
      if (index > 0) this.refusedCounted = Math.min(this.refusedCounted, counts[index - 1] ?? 0);
      if (refusal) this.refusedAt = Date.now();
      if (refusal) this.status('error', `saved the inbox's place without all its messages: ${refusal.message}`);
      this.forgetLegacyPlace();
      return;
    }
    this.fitCounted = 0;
    this.refusedCounted = 1;
    this.refusedAt = Date.now();
    this.status('error', `could not save the inbox: ${refusal?.message}`);
  }

  /**
   * How many of the `available` counted messages each try of a save keeps: the most not refused
   * lately, then what fit last (when not far fewer), then half as many again and again down to none.
   * @private @param {number} available @returns {number[]}
   */
  countsToTry(available) {
    // A refusal is remembered for a while only: storage may have room again (another page freed it).
    if (Date.now() - this.refusedAt > REFUSAL_MEMORY_MS) this.refusedCounted = SAVED_COUNTED + 1;
    const counts = [Math.min(this.refusedCounted - 1, SAVED_COUNTED, available)];
    const fit = this.fitCounted;
    let next = fit !== undefined && fit < counts[0] && fit >= Math.floor(counts[0] / 2) ? fit : Math.floor(counts[0] / 2);
    while (counts[counts.length - 1] > 0) {
      counts.push(next);
      next = Math.floor(next / 2);
    }
    return counts;
  }

  /**
   * The place saved under this inbox's key, when there is one that can be read: what this tab wrote
   * last is not parsed again (megabytes at every message), and may hold another tab's higher place
   * that it took in. @private
   */
  savedPlace() {
    try {
      const saved = this.options.storage?.getItem(this.key);
      if (saved && saved === this.written?.value) return this.written.place;
      return saved ? readPlace(saved) : undefined;
    } catch {
      // Not to be read (restore() said so): overwritten.
      return undefined;
    }
  }
}
