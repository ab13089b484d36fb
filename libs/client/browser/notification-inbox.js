// @ts-check
/**
 * The browser side of the notification inbox, for application teams: connects to the realtime
 * gateway, acknowledges what it has stored, shows each message once (de-duplicated by id), keeps
 * the last sequence number it holds without a gap, and syncs what it missed after any time
 * offline. Plain ES module; needs only a Socket.IO v4 client (`io`).
 *
 * @typedef {{ id: string, seq: number, type: string, title: string, body: string, data: Record<string, unknown>, createdAt: string }} InboxMessage
 * @typedef {{ getItem(key: string): string | null, setItem(key: string, value: string): void }} InboxStorage
 * @typedef {{
 *   io: (url: string, options: object) => any,
 *   url: string,
 *   token: string,
 *   deviceId?: string,
 *   storage?: InboxStorage,
 *   pageSize?: number,
 *   onMessages?: (messages: InboxMessage[]) => void,
 *   onRead?: (ids: string[]) => void,
 *   onStatus?: (status: 'connected' | 'disconnected' | 'error', detail?: string) => void,
 * }} InboxOptions
 */

const NAMESPACE = '/notifications';

/** The user a token names (`sub`), read without checking it: the gateway checks it. @param {string} token */
function subjectOf(token) {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const sub = JSON.parse(json).sub;
    return typeof sub === 'string' ? sub : 'anonymous';
  } catch {
    return 'anonymous';
  }
}

export class NotificationInbox {
  /** @param {InboxOptions} options */
  constructor(options) {
    this.options = options;
    /** @type {Map<string, InboxMessage>} */
    this.messages = new Map();
    /** @type {Set<number>} sequence numbers held above the gap-free prefix */
    this.ahead = new Set();
    // Per user and device: what one user has seen says nothing about another's sequence numbers.
    this.key = `notify-inbox:${subjectOf(options.token)}:${options.deviceId ?? 'default'}`;
    this.lastSeq = 0;
    this.restore();
    /** @type {Promise<void>} */
    this.syncing = Promise.resolve();
    this.socket = null;
  }

  /** Opens the connection; on every (re)connection it syncs from the last sequence number it holds. */
  connect() {
    const { io, url, token, deviceId } = this.options;
    const socket = io(`${url}${NAMESPACE}`, { auth: { token, deviceId }, transports: ['websocket'] });
    this.socket = socket;
    socket.on('connect', () => {
      this.options.onStatus?.('connected');
      void this.sync();
    });
    socket.on('disconnect', () => this.options.onStatus?.('disconnected'));
    socket.on('connect_error', (/** @type {Error} */ error) => this.options.onStatus?.('error', error.message));
    socket.on('notification', (/** @type {InboxMessage} */ message, /** @type {Function} */ ack) => {
      this.receive([message]);
      ack?.({ ok: true });
    });
    socket.on('notifications', (/** @type {InboxMessage[]} */ messages, /** @type {Function} */ ack) => {
      this.receive(messages);
      ack?.({ ok: true });
    });
    socket.on('read', (/** @type {{ ids: string[] }} */ payload) => this.options.onRead?.(payload.ids));
    return this;
  }

  disconnect() {
    this.socket?.disconnect();
  }

  /**
   * Asks for everything after the last gap-free sequence number, page by page, until nothing is newer.
   * A page holds, in order, every message the server still has after `afterSeq`: a number missing
   * from it is gone for good (past the retention period), so the place moves to the page's end.
   */
  sync() {
    this.syncing = this.syncing.then(async () => {
      for (;;) {
        const afterSeq = this.lastSeq;
        const answer = await this.request('sync', { afterSeq, limit: this.options.pageSize ?? 100 });
        if (answer.error || answer.notModified) return;
        this.receive(answer.messages, false);
        const end = answer.messages.length > 0 ? answer.messages[answer.messages.length - 1].seq : answer.lastSeq;
        this.advanceTo(end);
        this.save();
        if (!answer.hasMore || answer.messages.length === 0 || this.lastSeq <= afterSeq) return;
      }
    });
    return this.syncing;
  }

  /** Marks messages read here and on the user's other devices. @param {string[]} ids */
  markRead(ids) {
    return this.request('read', { ids });
  }

  /** @returns {InboxMessage[]} every message held, oldest first */
  list() {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  /**
   * Keeps and shows what it has not seen. Seen means held (by id) or at or below `lastSeq`: every
   * sequence number up to it has arrived, even if only the newest messages were kept across a reload.
   * @param {InboxMessage[]} incoming
   * @param {boolean} [fillGaps] whether a message beyond a gap starts a sync (not while one runs)
   */
  receive(incoming, fillGaps = true) {
    /** @type {InboxMessage[]} */
    const fresh = [];
    for (const message of incoming) {
      if (this.messages.has(message.id) || message.seq <= this.lastSeq) continue;
      this.messages.set(message.id, message);
      this.ahead.add(message.seq);
      fresh.push(message);
    }
    const before = this.lastSeq;
    this.advanceTo(before);
    if (fresh.length > 0) {
      this.save();
      this.options.onMessages?.(fresh);
    }
    // A message beyond a gap means some were missed: fetch them.
    if (fillGaps && this.ahead.size > 0 && this.lastSeq === before && fresh.length > 0) void this.sync();
  }

  /** Every number up to `seq` is held or gone; then on through the numbers held without a gap. @param {number} seq */
  advanceTo(seq) {
    if (seq > this.lastSeq) {
      this.lastSeq = seq;
      for (const held of this.ahead) if (held <= seq) this.ahead.delete(held);
    }
    while (this.ahead.delete(this.lastSeq + 1)) this.lastSeq += 1;
  }

  /** @param {string} event @param {object} payload @returns {Promise<any>} */
  request(event, payload) {
    return new Promise((resolve) => {
      if (!this.socket) return resolve({ error: { code: 'not_connected', message: 'connect() first' } });
      this.socket.timeout(10_000).emit(event, payload, (/** @type {Error|null} */ error, /** @type {any} */ answer) =>
        resolve(error ? { error: { code: 'timeout', message: error.message } } : answer),
      );
    });
  }

  restore() {
    const saved = this.options.storage?.getItem(this.key);
    if (!saved) return;
    const { lastSeq, messages } = JSON.parse(saved);
    this.lastSeq = lastSeq;
    for (const message of messages) {
      this.messages.set(message.id, message);
      // Held beyond a gap: counted once the gap is filled.
      if (message.seq > lastSeq) this.ahead.add(message.seq);
    }
  }

  save() {
    this.options.storage?.setItem(this.key, JSON.stringify({ lastSeq: this.lastSeq, messages: this.list().slice(-200) }));
  }
}
