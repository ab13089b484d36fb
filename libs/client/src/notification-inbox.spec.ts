import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { InboxMessage } from '@notify/contracts';
import { NotificationInbox, type InboxMessage as ModuleInboxMessage, type InboxStorage } from '../browser/notification-inbox.js';
import { eventually } from '@notify/testing';

// The module's own type of a message is exactly the contract's, optional fields included (checked by
// the compiler: assignable both ways let a field the module left out, such as an optional `url`, pass).
type Exactly<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const sameShape: [Exactly<ModuleInboxMessage, InboxMessage>, Exactly<InboxMessage, ModuleInboxMessage>] = [true, true];

/**
 * What the module asks of a Socket.IO client: handlers by event, and `sync` answered as the gateway
 * does from the messages the server still holds (`held`, in sequence order); other requests go unanswered.
 */
class SocketDouble {
  readonly handlers = new Map<string, (...args: unknown[]) => void>();
  held: InboxMessage[] = [];
  readonly syncs: number[] = [];
  /** Errors to answer the next syncs with, one each. */
  failures: string[] = [];
  /** False: a sync is asked but its answer has not come yet. */
  answering = true;
  /** Sync pages larger than this do not arrive within the request's timeout (a slow link). */
  slowAbove = Infinity;
  /** Every `read` request's ids, and the answer each gets (ok unless `readFailures` says otherwise). */
  readonly reads: string[][] = [];
  readFailures: (string | undefined)[] = [];
  on(event: string, handler: (...args: unknown[]) => void): this {
    this.handlers.set(event, handler);
    return this;
  }
  timeout(): this {
    return this;
  }
  /** The user's reads on every device, as the server numbers them: read n is `readLog[n - 1]`. */
  readLog: string[][] = [];
  /** Every `syncReads` request's `afterReadSeq`. */
  readonly syncReadsAsked: number[] = [];
  /** False: `syncReads` is answered with the request's timeout (a gateway from before it); 'later': not yet. */
  answeringReads: boolean | 'later' = true;
  /** Errors to answer the next syncReads with, one each. */
  readsFailures: string[] = [];
  emit(event: string, payload: { afterSeq: number; limit: number; ids?: string[]; afterReadSeq?: number }, answer: (error: Error | null, reply: unknown) => void): void {
    if (event === 'read') {
      this.reads.push(payload.ids!);
      const failure = this.readFailures.shift();
      return answer(null, failure ? { error: { code: failure, message: 'refused' } } : { ok: true });
    }
    if (event === 'syncReads') return this.answerSyncReads(payload.afterReadSeq!, answer);
    if (event !== 'sync') return;
    this.syncs.push(payload.afterSeq);
    if (!this.answering) return void this.heldAnswers.push(() => this.answerSync(payload, answer));
    this.answerSync(payload, answer);
  }
  /** Two reads per page, as the gateway pages them (whole reads). */
  private answerSyncReads(afterReadSeq: number, answer: (error: Error | null, reply: unknown) => void): void {
    this.syncReadsAsked.push(afterReadSeq);
    if (this.answeringReads === 'later') return;
    if (!this.answeringReads) return answer(new Error('operation has timed out'), undefined);
    const failure = this.readsFailures.shift();
    if (failure) return answer(null, { error: { code: failure, message: 'too many requests waiting' } });
    const lastReadSeq = this.readLog.length;
    if (afterReadSeq >= lastReadSeq) return answer(null, { notModified: true, lastReadSeq });
    const page = this.readLog.slice(afterReadSeq, afterReadSeq + 2);
    const hasMore = afterReadSeq + 2 < lastReadSeq;
    answer(null, { ids: page.flat(), lastReadSeq: hasMore ? afterReadSeq + 2 : lastReadSeq, hasMore });
  }
  /** Answers held while `answering` was false, now. */
  release(): void {
    this.answering = true;
    for (const answer of this.heldAnswers.splice(0)) answer();
  }
  private readonly heldAnswers: (() => void)[] = [];
  private answerSync(payload: { afterSeq: number; limit: number }, answer: (error: Error | null, reply: unknown) => void): void {
    // Socket.IO's own answer when none came within the timeout.
    if (payload.limit > this.slowAbove) return answer(new Error('operation has timed out'), undefined);
    const failure = this.failures.shift();
    if (failure) return answer(null, { error: { code: failure, message: 'the database is unavailable' } });
    // A client that asks for the same page again and again gets an error rather than a test that never ends.
    if (this.syncs.length > 20) return answer(null, { error: { code: 'too_many', message: 'sync loop' } });
    const lastSeq = this.held.reduce((last, m) => Math.max(last, m.seq), 0);
    if (payload.afterSeq >= lastSeq) return answer(null, { notModified: true, lastSeq });
    const after = this.held.filter((m) => m.seq > payload.afterSeq);
    const page = after.slice(0, payload.limit);
    const hasMore = after.length > payload.limit;
    // As the gateway answers: a page that has more ends at its last message.
    answer(null, { messages: page, lastSeq: hasMore ? page[page.length - 1]!.seq : lastSeq, hasMore });
  }
  /** Socket.IO's `active`: false once the server refused the connection or ended it. */
  active = true;
  /** The connection's id, as Socket.IO gives it: a new one on each reconnection, none while disconnected. */
  id: string | undefined = 'sid-1';
  /** The options the module gave `io`. */
  options: { auth?: (give: (auth: { token?: string; deviceId?: string }) => void) => void } = {};
  /** What each connection attempt sent in its handshake. */
  readonly handshakes: { token?: string }[] = [];
  disconnect(): void {}
  connect(): this {
    void this.handshake();
    return this;
  }
  /** A connection attempt: the handshake's `auth`, as the Socket.IO client gathers it. */
  async handshake(): Promise<{ token?: string }> {
    const auth = await new Promise<{ token?: string }>((resolve) => this.options.auth!(resolve));
    this.handshakes.push(auth);
    return auth;
  }
  /** The gateway refuses the handshake, as its middleware does for an expired token. */
  refuse(message: string): void {
    this.active = false;
    this.handlers.get('connect_error')!(new Error(message));
  }
  /** The server sends a resend batch; resolves with whether the client acknowledged it. */
  deliver(messages: InboxMessage[]): boolean {
    let acknowledged = false;
    this.handlers.get('notifications')!(messages, () => (acknowledged = true));
    return acknowledged;
  }
  /**
   * The server sends one message (`notification`) or a batch (`notifications`); resolves, once the
   * client has done what it does with them (a sync included), with its acknowledgement, if any.
   */
  async sent(event: 'notification' | 'notifications', messages: InboxMessage[]): Promise<unknown> {
    let acknowledgement: unknown;
    this.handlers.get(event)!(event === 'notification' ? messages[0] : messages, (answer: unknown) => (acknowledgement = answer));
    for (let tick = 0; tick < 5; tick++) await new Promise((resolve) => setImmediate(resolve));
    return acknowledgement;
  }
}

class MemoryStorage implements InboxStorage {
  readonly items = new Map<string, string>();
  /** Writes to refuse, as a full quota does. */
  refusals = 0;
  /** The longest value it takes: a longer one is refused, as a full quota does. */
  quota = Infinity;
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
  setItem(key: string, value: string): void {
    if (this.refusals-- > 0 || value.length > this.quota) throw new Error('QuotaExceededError');
    this.items.set(key, value);
  }
}

const message = (seq: number): InboxMessage => ({ id: `m-${seq}`, seq, type: 'account.note', title: `message ${seq}`, body: 'b', data: {}, createdAt: '2026-12-03T10:00:00.000Z' });
const bySeq = (a: string, b: string) => Number(a.slice(2)) - Number(b.slice(2));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => message(from + i));

/** A token's shape as the module reads it (unsigned here: the gateway is the one that checks it). */
const tokenFor = (sub: string) => `e30.${Buffer.from(JSON.stringify({ sub })).toString('base64url')}.sig`;

/** An inbox opened again over the storage of one that synced `held` to the end: its place is saved. */
async function reopened(held: InboxMessage[]) {
  const storage = new MemoryStorage();
  await open(storage, 'u-1', held).inbox.sync();
  return open(storage, 'u-1', held);
}

/** An inbox on a socket double, recording what it shows and the errors it reports. */
function open(storage: MemoryStorage, userId = 'u-1', held: InboxMessage[] = [], url = 'http://gateway', deviceId?: string) {
  const socket = new SocketDouble();
  socket.held = held;
  const shown: string[] = [];
  const errors: string[] = [];
  const inbox = new NotificationInbox({
    io: (_url, options) => ((socket.options = options as SocketDouble['options']), socket),
    url,
    token: tokenFor(userId),
    deviceId,
    storage,
    onMessages: (messages) => shown.push(...messages.map((m) => m.id)),
    onStatus: (status, detail) => void (status === 'error' && errors.push(detail ?? '')),
  }).connect();
  return { socket, shown, errors, inbox };
}

describe('NotificationInbox', () => {
  it('shows a resent message once even after a reload that kept only the newest messages', async () => {
    const storage = new MemoryStorage();
    const first = open(storage);
    expect(first.socket.deliver(range(1, 300))).toBe(true);
    expect(first.shown).toHaveLength(300);

    // The page reloads; storage holds the newest 200. The resend poller sends message 5 again
    // (its acknowledgement was lost): acknowledged once a sync said the server's numbers still reach
    // this place (no reset), not shown.
    const reloaded = open(storage, 'u-1', range(1, 301));
    expect(reloaded.inbox.lastSeq).toBe(300);
    expect(await reloaded.socket.sent('notifications', [message(5), message(301)])).toEqual({ ok: true });
    expect(reloaded.shown).toEqual(['m-301']);
    expect(reloaded.socket.syncs).toEqual([301]);
  });

  it('connects to the notifications namespace of a gateway address given with a trailing slash', () => {
    const asked: string[] = [];
    new NotificationInbox({ io: (url) => (asked.push(url), new SocketDouble()), url: 'https://gw.example/', token: tokenFor('u-1'), storage: new MemoryStorage() }).connect();
    expect(asked).toEqual(['https://gw.example/notifications']);
  });

  it('keeps a place per gateway, so a page on two installations syncs each from its own', async () => {
    const storage = new MemoryStorage();
    const production = open(storage, 'u-1', range(1, 40), 'https://notify.example.com');
    await production.inbox.sync();
    expect(production.inbox.lastSeq).toBe(40);

    // The same user on a staging installation has 3 messages: synced from 0, not from production's 40.
    const staging = open(storage, 'u-1', range(1, 3), 'https://notify.staging.example.com');
    await staging.inbox.sync();
    expect(staging.socket.syncs).toEqual([0]);
    expect(staging.shown).toEqual(['m-1', 'm-2', 'm-3']);
    expect(open(storage, 'u-1', [], 'https://notify.example.com').inbox.lastSeq).toBe(40);
  });

  it('takes back a place saved by the versions that kept it without the gateway, and then removes it', async () => {
    const storage = new MemoryStorage();
    storage.setItem('notify-inbox:u-1:default', JSON.stringify({ lastSeq: 7, messages: [message(7)] }));
    const { inbox, socket, shown } = open(storage, 'u-1', range(1, 8), 'http://gateway/');
    expect(inbox.lastSeq).toBe(7);
    expect(socket.deliver([message(7), message(8)])).toBe(true);
    expect(shown).toEqual(['m-8']);
    // Saved under its own key (the same gateway, with or without its trailing slash), the old place goes.
    expect(storage.getItem('notify-inbox:u-1:default')).toBeNull();
    expect(open(storage, 'u-1', [], 'http://gateway').inbox.lastSeq).toBe(8);
    // Another gateway the page talks to later starts from nothing, not from the old place.
    const other = open(storage, 'u-1', range(1, 2), 'https://other.example');
    await other.inbox.sync();
    expect(other.socket.syncs).toEqual([0]);
  });

  it('keeps apart the places of ids that hold the key\'s separators', async () => {
    const storage = new MemoryStorage();
    // User 'a:b' on device 'c' and user 'a' on device 'b:c' once shared a key, and each took in the other's messages.
    const first = open(storage, 'a:b', range(1, 30), 'http://gateway', 'c');
    await first.inbox.sync();
    expect(first.inbox.lastSeq).toBe(30);
    const second = open(storage, 'a', range(1, 2), 'http://gateway', 'b:c');
    expect(second.inbox.lastSeq).toBe(0);
    await second.inbox.sync();
    expect(second.socket.syncs).toEqual([0]);
    expect(second.shown).toEqual(['m-1', 'm-2']);
    expect(open(storage, 'a:b', [], 'http://gateway', 'c').inbox.lastSeq).toBe(30);
    // Device 'c' on gateway 'x@gw' and device 'c@x' on gateway 'gw' shared one too.
    const onX = open(storage, 'u', range(1, 3), 'x@gw', 'c');
    await onX.inbox.sync();
    expect(onX.inbox.lastSeq).toBe(3);
    expect(open(storage, 'u', [], 'gw', 'c@x').inbox.lastSeq).toBe(0);
  });

  it('keeps the key of the versions before for ids without a separator, an email among them', () => {
    const storage = new MemoryStorage();
    storage.setItem('notify-inbox:ana@example.com:phone-1@http://gateway', JSON.stringify({ lastSeq: 9, messages: [message(9)] }));
    expect(open(storage, 'ana@example.com', [], 'http://gateway', 'phone-1').inbox.lastSeq).toBe(9);
  });

  it('takes over, then removes, the place the versions before saved for a user id with a separator', () => {
    const storage = new MemoryStorage();
    storage.setItem('notify-inbox:tenant:42:default@http://gateway', JSON.stringify({ lastSeq: 7, messages: [message(7)] }));
    const { inbox, socket, shown } = open(storage, 'tenant:42', range(1, 8));
    expect(inbox.lastSeq).toBe(7);
    expect(socket.deliver([message(7), message(8)])).toBe(true);
    expect(shown).toEqual(['m-8']);
    expect(storage.getItem('notify-inbox:tenant:42:default@http://gateway')).toBeNull();
    expect(open(storage, 'tenant:42', []).inbox.lastSeq).toBe(8);
  });

  it('does not take over a place the versions before saved under a key a device id with a separator made ambiguous', () => {
    const storage = new MemoryStorage();
    // Saved for user 'a' on device 'b:c', or for user 'a:b' on device 'c': not known which.
    storage.setItem('notify-inbox:a:b:c', JSON.stringify({ lastSeq: 7, messages: [message(7)] }));
    const { inbox, socket } = open(storage, 'a', [], 'http://gateway', 'b:c');
    expect(inbox.lastSeq).toBe(0);
    // Nor removes it once its own place is saved: it may be somebody else's.
    expect(socket.deliver([message(1)])).toBe(true);
    expect(storage.getItem('notify-inbox:a:b:c')).not.toBeNull();
  });

  it('takes a device id that is not a string, as the versions before did', () => {
    const storage = new MemoryStorage();
    storage.setItem('notify-inbox:u-1:42@http://gateway', JSON.stringify({ lastSeq: 5, messages: [message(5)] }));
    expect(open(storage, 'u-1', [], 'http://gateway', 42 as unknown as string).inbox.lastSeq).toBe(5);
  });

  it.each([
    ['not JSON', '{"lastSeq": 4, "messa'],
    ['no place', JSON.stringify({ messages: [] })],
    ['no messages', JSON.stringify({ lastSeq: 4 })],
    ['a message without a seq', JSON.stringify({ lastSeq: 4, messages: [{ id: 'm-4' }] })],
  ])('starts from nothing, and says so, when the saved inbox holds %s', async (_, saved) => {
    const storage = new MemoryStorage();
    storage.setItem('notify-inbox:u-1:default@http://gateway', saved);
    const { inbox, shown, errors } = open(storage, 'u-1', range(1, 2));
    expect(errors).toEqual([expect.stringMatching(/^ignored the saved inbox, which cannot be read: /)]);
    await inbox.sync();
    expect(shown).toEqual(['m-1', 'm-2']);
    expect(inbox.lastSeq).toBe(2);
  });

  it('counts a message held beyond a gap across a reload, once the gap is filled', async () => {
    const storage = new MemoryStorage();
    const first = open(storage);
    // the sync that message 5 starts for 4 has no answer yet when the page reloads
    first.socket.answering = false;
    first.socket.deliver([...range(1, 3), message(5)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(first.socket.syncs).toEqual([3]);
    expect(first.inbox.lastSeq).toBe(3);

    const reloaded = open(storage);
    reloaded.socket.deliver([message(4)]);
    expect(reloaded.inbox.lastSeq).toBe(5);
    expect(reloaded.shown).toEqual(['m-4']);
  });

  it('shows nothing twice after a reload while more than 200 messages are held beyond a gap', async () => {
    const storage = new MemoryStorage();
    const first = open(storage);
    first.socket.deliver(range(1, 10));
    // 11 is missing (it expired before its resend); the sync that fills it has no answer yet when the page reloads
    first.socket.answering = false;
    first.socket.deliver(range(12, 400));
    await new Promise((resolve) => setImmediate(resolve));
    expect(first.inbox.lastSeq).toBe(10);
    expect(first.shown).toHaveLength(399);

    const reloaded = open(storage, 'u-1', [...range(1, 10), ...range(12, 400)]);
    await reloaded.inbox.sync();
    expect(reloaded.inbox.lastSeq).toBe(400);
    expect(reloaded.shown).toEqual([]);
  });

  it('syncs a new device past the numbers the server no longer keeps, page by page, to the end', async () => {
    const { socket, shown, inbox } = open(new MemoryStorage());
    socket.held = range(101, 250); // 1–100 are past the retention period
    await inbox.sync();
    expect(shown).toEqual(range(101, 250).map((m) => m.id));
    expect(inbox.lastSeq).toBe(250);
    expect(socket.syncs).toEqual([0, 200]);
    await inbox.sync();
    expect(socket.syncs).toEqual([0, 200, 250]);
  });

  it('moves past a number missing between two it holds, and shows nothing twice after a reload', async () => {
    const storage = new MemoryStorage();
    const first = open(storage);
    first.socket.held = [...range(1, 49), ...range(51, 61)]; // 50 is gone: its partition was dropped
    first.socket.deliver(range(1, 45));
    first.socket.deliver([message(61)]); // beyond a gap: the client syncs what it missed
    await first.inbox.sync();
    expect(first.inbox.lastSeq).toBe(61);
    expect([...first.shown].sort(bySeq)).toEqual([...range(1, 49), ...range(51, 61)].map((m) => m.id));

    const reloaded = open(storage);
    expect(reloaded.inbox.lastSeq).toBe(61);
    reloaded.socket.deliver([message(48), message(61), message(62)]);
    expect(reloaded.shown).toEqual(['m-62']);
  });

  it('shows a message that arrives twice in one batch once', () => {
    const { socket, shown } = open(new MemoryStorage());
    socket.deliver([message(1), message(1), message(2)]);
    expect(shown).toEqual(['m-1', 'm-2']);
  });

  it('keeps each user’s place apart in a browser they share', () => {
    const storage = new MemoryStorage();
    open(storage, 'u-a').socket.deliver(range(1, 300));
    const other = open(storage, 'u-b');
    expect(other.inbox.lastSeq).toBe(0);
    other.socket.deliver([message(1)]);
    expect(other.shown).toEqual(['m-1']);
  });

  it('fetches a number missing from a batch that also moved its place', async () => {
    const { socket, shown, inbox } = open(new MemoryStorage(), 'u-1', range(1, 6));
    socket.deliver(range(1, 3));
    socket.deliver([message(4), message(6)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(shown.sort(bySeq)).toEqual(range(1, 6).map((m) => m.id));
    expect(inbox.lastSeq).toBe(6);
  });

  it('goes on syncing after storage refused a page, and says so', async () => {
    const storage = new MemoryStorage();
    const { socket, shown, errors, inbox } = open(storage, 'u-1', range(1, 3));
    storage.refusals = 3;
    await inbox.sync();
    expect(shown).toEqual(['m-1', 'm-2', 'm-3']);
    expect(errors).toEqual(['could not save the inbox: QuotaExceededError']);
    socket.held = range(1, 5);
    await inbox.sync();
    expect(shown).toEqual(range(1, 5).map((m) => m.id));
    expect(JSON.parse(storage.getItem('notify-inbox:u-1:default@http://gateway')!).lastSeq).toBe(5);
  });

  it('keeps its place when storage is too full for its messages, so a reload shows nothing again', async () => {
    const storage = new MemoryStorage();
    const large = (seq: number): InboxMessage => ({ ...message(seq), body: 'b'.repeat(1_000) });
    const held = Array.from({ length: 30 }, (_, i) => large(i + 1));
    const first = open(storage, 'u-1', held.slice(0, 10));
    await first.inbox.sync();
    storage.quota = 5_000;
    first.socket.held = held;
    await first.inbox.sync();
    expect(new Set(first.errors)).toEqual(new Set(["saved the inbox's place without all its messages: QuotaExceededError"]));

    const reloaded = open(storage, 'u-1', held);
    await reloaded.inbox.sync();
    expect(reloaded.inbox.lastSeq).toBe(30);
    expect(reloaded.shown).toEqual([]);
  });

  it('keeps as many of the newest messages as storage takes, finding the most a refused write at a time, then no refused write at all', async () => {
    const storage = new MemoryStorage();
    const large = (seq: number): InboxMessage => ({ ...message(seq), data: { blob: 'd'.repeat(1_000) } });
    const saved = () => JSON.parse(storage.getItem('notify-inbox:u-1:default@http://gateway')!) as { lastSeq: number; messages: InboxMessage[] };
    const refusedCounts: number[] = [];
    const setItem = storage.setItem.bind(storage);
    storage.setItem = (key, value) => {
      try {
        setItem(key, value);
      } catch (error) {
        refusedCounts.push((JSON.parse(value) as { messages: unknown[] }).messages.length);
        throw error;
      }
    };
    storage.quota = 20_000; // room for 17 of them
    const first = open(storage, 'u-1', range(1, 100).map((m) => large(m.seq)));
    await first.inbox.sync();
    // The first save halves until something fits: 100, 50 and 25 refused, 12 fit.
    expect(saved().lastSeq).toBe(100);
    expect(refusedCounts.slice(0, 3)).toEqual([100, 50, 25]);
    expect(saved().messages.length).toBe(12);

    // Each later save tries one below the fewest refused (one refused write), else what fit last.
    first.socket.held.push(...range(101, 120).map((m) => large(m.seq)));
    for (let seq = 101; seq <= 112; seq++) expect(await first.socket.sent('notification', [large(seq)])).toEqual({ ok: true });
    expect(refusedCounts).toEqual([100, 50, 25, 24, 23, 22, 21, 20, 19, 18]);
    expect(saved().messages.map((m) => m.seq)).toEqual(range(96, 112).map((m) => m.seq));

    // Found: the saves after it write no refused megabytes.
    const refusedSoFar = refusedCounts.length;
    for (let seq = 113; seq <= 116; seq++) expect(await first.socket.sent('notification', [large(seq)])).toEqual({ ok: true });
    expect(refusedCounts).toHaveLength(refusedSoFar);
    expect(saved().messages.map((m) => m.seq)).toEqual(range(100, 116).map((m) => m.seq));

    // A reload holds the newest messages saved, and shows nothing again.
    const reloaded = open(storage, 'u-1', range(1, 116).map((m) => large(m.seq)));
    expect(reloaded.inbox.list().map((m) => m.seq)).toEqual(range(100, 116).map((m) => m.seq));
    await reloaded.inbox.sync();
    expect(reloaded.inbox.lastSeq).toBe(116);
    expect(reloaded.shown).toEqual([]);
  });

  it('tries the most again a minute after storage refused, so a long-lived tab saves more once there is room', async () => {
    let now = Date.now();
    const clock = jest.spyOn(Date, 'now').mockImplementation(() => now);
    try {
      const storage = new MemoryStorage();
      const saved = () => JSON.parse(storage.getItem('notify-inbox:u-1:default@http://gateway')!) as { messages: InboxMessage[] };
      const { socket, inbox } = open(storage, 'u-1', range(1, 30));
      storage.refusals = 100; // another page fills the quota: nothing fits, the place neither
      await inbox.sync();
      storage.refusals = 0; // room again
      socket.held.push(message(31));
      expect(await socket.sent('notification', [message(31)])).toEqual({ ok: true });
      expect(saved().messages).toEqual([]);
      now += 61_000;
      socket.held.push(message(32));
      expect(await socket.sent('notification', [message(32)])).toEqual({ ok: true });
      expect(saved().messages.map((m) => m.seq)).toEqual(range(1, 32).map((m) => m.seq));
    } finally {
      clock.mockRestore();
    }
  });

  it('never moves back the place another tab saved, so a reload shows nothing again', async () => {
    const storage = new MemoryStorage();
    const saved = () => JSON.parse(storage.getItem('notify-inbox:u-1:default@http://gateway')!) as { lastSeq: number; messages: InboxMessage[] };
    // Two tabs of one page, one user and device: the first one's sync has no answer yet.
    const behind = open(storage, 'u-1', range(1, 302));
    behind.socket.answering = false;
    const ahead = open(storage, 'u-1', range(1, 300));
    await ahead.inbox.sync();
    expect(saved().lastSeq).toBe(300);

    // The tab behind gets message 301, beyond its gap, and saves; then 302, and saves again over what
    // it wrote itself, which holds the other tab's place.
    expect(await behind.socket.sent('notification', [message(301)])).toEqual({ ok: true });
    expect(behind.inbox.lastSeq).toBe(0);
    expect(saved().lastSeq).toBe(300);
    expect(await behind.socket.sent('notification', [message(302)])).toEqual({ ok: true });
    expect(saved().lastSeq).toBe(300);
    expect(saved().messages.map((m) => m.seq)).toEqual(range(101, 302).map((m) => m.seq));

    const reloaded = open(storage, 'u-1', range(1, 302));
    await reloaded.inbox.sync();
    expect(reloaded.shown).toEqual([]);
    expect(reloaded.inbox.lastSeq).toBe(302);

    // Its sync answered, the tab behind shows what it had not (another tab is another screen).
    behind.socket.release();
    await behind.inbox.sync();
    expect(behind.shown).toHaveLength(302);
    expect(saved().lastSeq).toBe(302);
  });

  it('tries a failed sync again, later and later, until it gets what was missed', async () => {
    jest.useFakeTimers();
    try {
      const { socket, shown, errors } = open(new MemoryStorage(), 'u-1', range(1, 5));
      socket.failures = ['internal', 'internal'];
      socket.handlers.get('connect')!();
      await jest.advanceTimersByTimeAsync(0);
      expect(shown).toEqual([]);
      await jest.advanceTimersByTimeAsync(1_000);
      expect(socket.syncs).toEqual([0, 0]);
      await jest.advanceTimersByTimeAsync(1_999);
      expect(socket.syncs).toEqual([0, 0]); // the second wait is twice as long
      await jest.advanceTimersByTimeAsync(1);
      expect(shown).toEqual(range(1, 5).map((m) => m.id));
      expect(errors).toEqual(['sync failed: internal: the database is unavailable', 'sync failed: internal: the database is unavailable']);
    } finally {
      jest.useRealTimers();
    }
  });

  it('goes on syncing after the page’s onStatus threw', async () => {
    jest.useFakeTimers();
    try {
      const socket = new SocketDouble();
      socket.held = range(1, 5);
      socket.failures = ['internal'];
      const shown: string[] = [];
      let throws = 1;
      new NotificationInbox({
        io: () => socket,
        url: 'http://gateway',
        token: tokenFor('u-1'),
        onMessages: (messages) => shown.push(...messages.map((m) => m.id)),
        onStatus: (status) => {
          if (status === 'error' && throws-- > 0) throw new Error('the page’s own bug');
        },
      }).connect();
      socket.handlers.get('connect')!();
      await jest.advanceTimersByTimeAsync(0);
      socket.handlers.get('connect')!();
      await jest.advanceTimersByTimeAsync(5_000);
      expect(shown).toEqual(range(1, 5).map((m) => m.id));
    } finally {
      jest.useRealTimers();
    }
  });

  it('does not take a sync that timed out while disconnected for a slow link', async () => {
    const { socket, inbox } = open(new MemoryStorage(), 'u-1', range(1, 5));
    (socket as unknown as { connected: boolean }).connected = false;
    socket.slowAbove = 0;
    await inbox.sync();
    (socket as unknown as { connected: boolean }).connected = true;
    socket.slowAbove = Infinity;
    const limits: number[] = [];
    const emit = socket.emit.bind(socket);
    socket.emit = (event, payload, answer) => (limits.push(payload.limit), emit(event, payload, answer));
    await inbox.sync();
    expect(limits).toEqual([100]);
  });

  it('asks for smaller pages after one timed out, larger ones again as pages arrive, and full pages on the next sync', async () => {
    jest.useFakeTimers();
    try {
      const { socket, shown, errors, inbox } = open(new MemoryStorage(), 'u-1', range(1, 70));
      socket.slowAbove = 30;
      const limits: number[] = [];
      const emit = socket.emit.bind(socket);
      socket.emit = (event, payload, answer) => (event === 'sync' && limits.push(payload.limit), emit(event, payload, answer));
      socket.handlers.get('connect')!();
      await jest.advanceTimersByTimeAsync(0);
      await jest.advanceTimersByTimeAsync(1_000);
      await jest.advanceTimersByTimeAsync(2_000);
      await jest.advanceTimersByTimeAsync(4_000);
      // Two pages arrived at 25, so it tried 50 again; that timed out, and growing now waits for four.
      expect(limits).toEqual([100, 50, 25, 25, 50, 25]);
      expect(shown).toEqual(range(1, 70).map((m) => m.id));
      expect(errors).toEqual(Array(3).fill('sync failed: timeout: operation has timed out'));
      // A later sync (the next connection) starts with full pages.
      socket.slowAbove = Infinity;
      socket.held.push(...range(71, 80));
      await inbox.sync();
      expect(limits.slice(6)).toEqual([100]);
      expect(inbox.lastSeq).toBe(80);
    } finally {
      jest.useRealTimers();
    }
  });

  it('grows its pages back after a stall of the server, so the backlog does not come a few messages at a time', async () => {
    jest.useFakeTimers();
    try {
      const { socket, inbox } = open(new MemoryStorage(), 'u-1', range(1, 400));
      socket.slowAbove = 0;
      const limits: number[] = [];
      const emit = socket.emit.bind(socket);
      socket.emit = (event, payload, answer) => (event === 'sync' && limits.push(payload.limit), emit(event, payload, answer));
      socket.handlers.get('connect')!();
      // Every page times out while the server stalls: 100, 50, 25, 12, 6.
      for (const wait of [0, 1_000, 2_000, 4_000, 8_000]) await jest.advanceTimersByTimeAsync(wait);
      socket.slowAbove = Infinity;
      await jest.advanceTimersByTimeAsync(16_000);

      expect(limits.slice(0, 5)).toEqual([100, 50, 25, 12, 6]);
      expect(inbox.lastSeq).toBe(400);
      expect(limits.length).toBeLessThanOrEqual(20);
    } finally {
      jest.useRealTimers();
    }
  });

  it('queues one sync behind the one running however many messages beyond a gap arrive meanwhile', async () => {
    const { socket, inbox } = open(new MemoryStorage(), 'u-1', range(1, 60));
    socket.answering = false;
    socket.handlers.get('connect')!();
    await new Promise((resolve) => setImmediate(resolve));
    const notification = socket.handlers.get('notification')!;
    for (const message of range(61, 110)) notification(message, () => undefined);
    socket.held.push(...range(61, 110));
    socket.release();
    for (let tick = 0; tick < 20; tick++) await new Promise((resolve) => setImmediate(resolve));

    // The first sync's two pages, then the one sync queued behind it (not one per message).
    expect(socket.syncs).toEqual([0, 110, 110]);
    expect(inbox.lastSeq).toBe(110);
  });

  it('never retries in a tight loop, even when told to wait 0 ms', async () => {
    jest.useFakeTimers();
    try {
      const socket = new SocketDouble();
      socket.failures = Array(30).fill('internal');
      const inbox = new NotificationInbox({ io: () => socket, url: 'http://gateway', token: tokenFor('u-1'), syncRetryMs: 0 });
      inbox.connect();
      socket.handlers.get('connect')!();
      await jest.advanceTimersByTimeAsync(1_000);
      expect(socket.syncs.length).toBeLessThanOrEqual(5);
    } finally {
      jest.useRealTimers();
    }
  });

  it('declares its types without packages an application does not have', () => {
    expect(sameShape).toHaveLength(2);
    const declarations = readFileSync(resolve(__dirname, '../browser/notification-inbox.d.ts'), 'utf8');
    expect(declarations.match(/from '[^.][^']*'/g)).toBeNull();
  });

  it('reads a token’s user id written in UTF-8', async () => {
    const socket = new SocketDouble();
    expect(() => new NotificationInbox({ io: () => socket, url: 'http://gateway', userId: 'józef', token: tokenFor('józef') })).not.toThrow();
    new NotificationInbox({ io: (_url, options) => ((socket.options = options as SocketDouble['options']), socket), url: 'http://gateway', userId: '用户42', token: () => tokenFor('用户42') }).connect();
    expect((await socket.handshake()).token).toBe(tokenFor('用户42'));
  });

  it('marks any number of messages read, 500 at a time, and answers with the first error', async () => {
    const { socket, inbox } = open(new MemoryStorage());
    const ids = range(1, 1_201).map((m) => m.id);
    expect(await inbox.markRead(ids)).toEqual({ ok: true });
    expect(socket.reads.map((r) => r.length)).toEqual([500, 500, 201]);
    expect(socket.reads.flat()).toEqual(ids);

    socket.readFailures = [undefined, 'internal'];
    expect(await inbox.markRead(ids)).toEqual({ error: { code: 'internal', message: 'refused' } });
    expect(socket.reads.slice(3).map((r) => r.length)).toEqual([500, 500]);
  });

  it('asks for pages the gateway serves: at most 500', async () => {
    const socket = new SocketDouble();
    socket.held = range(1, 600);
    const limits: number[] = [];
    const emit = socket.emit.bind(socket);
    socket.emit = (event, payload, answer) => (limits.push(payload.limit), emit(event, payload, answer));
    const inbox = new NotificationInbox({ io: () => socket, url: 'http://gateway', token: tokenFor('u-1'), pageSize: 5_000 }).connect();
    await inbox.sync();
    expect(limits).toEqual([500, 500]);
    expect(inbox.lastSeq).toBe(600);
  });

  it('keeps the newest messages in memory, and still shows an older one resent later only once', async () => {
    const socket = new SocketDouble();
    socket.held = range(1, 301);
    const shown: string[] = [];
    const inbox = new NotificationInbox({
      io: () => socket,
      url: 'http://gateway',
      token: tokenFor('u-1'),
      maxHeld: 50,
      onMessages: (messages) => shown.push(...messages.map((m) => m.id)),
    }).connect();
    socket.deliver(range(1, 300));
    expect(inbox.list().map((m) => m.seq)).toEqual(range(251, 300).map((m) => m.seq));
    expect(await socket.sent('notifications', [message(5), message(301)])).toEqual({ ok: true });
    expect(shown).toEqual(range(1, 301).map((m) => m.id));
  });

  it('keeps its place when storage takes nothing but the place itself', async () => {
    const storage = new MemoryStorage();
    const large = (seq: number): InboxMessage => ({ ...message(seq), body: 'b'.repeat(1_000) });
    const { socket, inbox, errors } = open(storage, 'u-1', [large(1), large(3), large(4)]);
    socket.deliver([large(3), large(4)]); // held beyond the gap at 2
    storage.quota = 100;
    await inbox.sync();
    expect(JSON.parse(storage.getItem('notify-inbox:u-1:default@http://gateway')!)).toEqual({ lastSeq: 4, lastReadSeq: 0, readMarks: true, messages: [] });
    expect(new Set(errors)).toEqual(new Set(["saved the inbox's place without all its messages: QuotaExceededError"]));
  });

  it('refuses a token string for another user than the userId it is given', () => {
    expect(() => new NotificationInbox({ io: () => new SocketDouble(), url: 'http://gateway', userId: 'u-1', token: tokenFor('u-2') })).toThrow(
      'the token is for u-2, not for userId u-1',
    );
  });

  it('connects with no token, and says why, when a token function gives one for another user', async () => {
    const socket = new SocketDouble();
    const errors: string[] = [];
    new NotificationInbox({
      io: (_url, options) => ((socket.options = options as SocketDouble['options']), socket),
      url: 'http://gateway',
      userId: 'u-1',
      token: () => tokenFor('u-2'),
      onStatus: (status, detail) => void (status === 'error' && errors.push(detail ?? '')),
    }).connect();
    const handshake = await socket.handshake();
    expect(handshake.token).toBeUndefined();
    expect(errors).toEqual(["token function failed: the token is for another user than this inbox's (u-1): make an inbox for that user"]);
  });

  it('asks a token function for a fresh token and connects again after the gateway refused one', async () => {
    jest.useFakeTimers();
    try {
      const socket = new SocketDouble();
      const issued: string[] = [];
      const statuses: string[] = [];
      const inbox = new NotificationInbox({
        io: (_url, options) => ((socket.options = options as SocketDouble['options']), socket),
        url: 'http://gateway',
        userId: 'u-1',
        token: async () => (issued.push(`token-${issued.length + 1}`), issued[issued.length - 1]!),
        onStatus: (status, detail) => void statuses.push(`${status}: ${detail ?? ''}`),
      }).connect();
      await socket.handshake();
      socket.refuse('token expired');
      await jest.advanceTimersByTimeAsync(999);
      expect(socket.handshakes).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(socket.handshakes.map((h) => h.token)).toEqual(['token-1', 'token-2']);
      expect(statuses).toEqual(['error: token expired']);

      // The gateway ends the connection when the token expires; Socket.IO would not come back by itself.
      socket.handlers.get('connect')!();
      socket.handlers.get('disconnect')!('io server disconnect');
      await jest.advanceTimersByTimeAsync(1_000);
      expect(socket.handshakes.map((h) => h.token)).toEqual(['token-1', 'token-2', 'token-3']);

      // Closed by the page: nothing connects again.
      inbox.disconnect();
      socket.handlers.get('disconnect')!('io server disconnect');
      await jest.advanceTimersByTimeAsync(60_000);
      expect(socket.handshakes).toHaveLength(3);
    } finally {
      jest.useRealTimers();
    }
  });

  it('does not connect again with a token string the gateway refused', async () => {
    jest.useFakeTimers();
    try {
      const { socket, errors } = open(new MemoryStorage());
      socket.refuse('token expired');
      await jest.advanceTimersByTimeAsync(60_000);
      expect(socket.handshakes).toHaveLength(0);
      expect(errors).toEqual(['token expired']);
    } finally {
      jest.useRealTimers();
    }
  });

  it('needs the user id with a token function, to keep each user’s place apart', () => {
    expect(() => new NotificationInbox({ io: () => new SocketDouble(), url: 'http://gateway', token: () => 'a.b.c' })).toThrow('a token function needs userId');
  });

  it('starts again from the first number when the server’s inbox was reset below its place', async () => {
    const storage = new MemoryStorage();
    const before = open(storage, 'u-1', range(1, 300));
    await before.inbox.sync();
    expect(before.inbox.lastSeq).toBe(300);

    // The server's database was restored from an older copy: its numbers end at 3.
    const after = open(storage, 'u-1', range(1, 3).map((m) => ({ ...m, id: `new-${m.seq}` })));
    await after.inbox.sync();
    expect(after.shown).toEqual(['new-1', 'new-2', 'new-3']);
    expect(after.inbox.lastSeq).toBe(3);
    expect(after.socket.syncs).toEqual([300, 0]);
    // A deliberate reset: the place saved moves back too, and a reload syncs from it.
    const reloaded = open(storage, 'u-1', range(1, 3).map((m) => ({ ...m, id: `new-${m.seq}` })));
    expect(reloaded.inbox.lastSeq).toBe(3);
  });

  it('starts again from the first number when a reset is found while a sync page is on its way', async () => {
    const { socket, shown, inbox } = await reopened(range(1, 10));
    // The server's database was replaced: it holds 15 other messages.
    const replaced = range(1, 15).map((m) => ({ ...m, id: `new-${m.seq}` }));
    socket.held = replaced;
    socket.answering = false;
    const running = inbox.sync();
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.syncs).toEqual([10]);
    // Meanwhile another message comes at a number it holds a different one at: the reset is found.
    socket.handlers.get('notification')!(replaced[2], () => undefined);
    await new Promise((resolve) => setImmediate(resolve));
    socket.release();
    await running;
    await inbox.sync();
    // Every message of the replaced inbox, once each: the page asked for from 10 did not move the place past 1–10.
    expect(shown.filter((id) => id.startsWith('new-')).sort()).toEqual(replaced.map((m) => m.id).sort());
    expect(inbox.lastSeq).toBe(15);
  });

  it('shows nothing again that a restored copy of the server still holds under the same ids', async () => {
    const storage = new MemoryStorage();
    const before = open(storage, 'u-1', range(1, 300));
    await before.inbox.sync();

    // Restored from a copy whose numbers end at 250, then one new message.
    const after = open(storage, 'u-1', [...range(1, 250), { ...message(251), id: 'new-251' }]);
    await after.inbox.sync();
    // The newest 200 were kept across the reload; the 100 before them are shown again, as after any reload.
    expect(after.shown.filter((id) => !id.startsWith('m-') || Number(id.slice(2)) > 100)).toEqual(['new-251']);
    expect(after.inbox.lastSeq).toBe(251);
  });

  it('shows a new message the server numbered below its place after a restore, and syncs from the start', async () => {
    const { socket, shown, inbox } = open(new MemoryStorage(), 'u-1', range(1, 300));
    await inbox.sync();
    // The gateway stayed connected while the database was restored to number 250: it numbers anew.
    socket.held = [...range(1, 250), { ...message(251), id: 'new-251' }, { ...message(252), id: 'new-252' }];
    expect(socket.deliver([{ ...message(251), id: 'new-251' }])).toBe(true);
    await inbox.sync();
    expect(shown.slice(300)).toEqual(['new-251', 'new-252']);
    expect(socket.syncs).toEqual([0, 100, 200, 0, 100, 200]);
    expect(inbox.lastSeq).toBe(252);
  });

  it('shows a new message the server numbered below its place after a restore, at a number it holds nothing at', async () => {
    const storage = new MemoryStorage();
    const before = open(storage, 'u-1', range(1, 1_000));
    await before.inbox.sync();

    // After a reload it holds the newest 200 (801–1000); the server was restored to number 500 and
    // numbers anew. Number 501 is neither held by id nor held by another message.
    const fresh = { ...message(501), id: 'new-501' };
    const after = open(storage, 'u-1', [...range(1, 500), fresh]);
    expect(after.inbox.list()[0]!.seq).toBe(801);
    expect(await after.socket.sent('notification', [fresh])).toEqual({ ok: true });
    expect(after.shown.filter((id) => id.startsWith('new-'))).toEqual(['new-501']);
    expect(after.inbox.list().map((m) => m.id)).toContain('new-501');
    expect(after.inbox.lastSeq).toBe(501);
    expect(after.socket.syncs).toEqual([1_000, 0, 100, 200, 300, 400, 500]);
  });

  it('acknowledges an old message sent again at a number it no longer holds only once a sync has said so', async () => {
    const { socket, shown } = await reopened(range(1, 300));

    // The sync that would tell a resend from a reset fails: nothing decided, nothing acknowledged.
    socket.failures = ['internal'];
    expect(await socket.sent('notification', [message(5)])).toBeUndefined();
    // The server sends it again: the server's numbers still reach 300, so it was seen.
    expect(await socket.sent('notification', [message(5)])).toEqual({ ok: true });
    expect(socket.syncs).toEqual([300, 300]);
    expect(shown).toEqual([]);
  });

  it('waits for a sync that starts after an unsure message came, not for the one already running', async () => {
    const { socket, shown, inbox } = await reopened(range(1, 300));
    socket.answering = false;
    const running = inbox.sync();
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.syncs).toEqual([300]); // asked, not answered yet
    let acknowledged = false;
    socket.handlers.get('notification')!(message(5), () => (acknowledged = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(acknowledged).toBe(false);
    socket.release();
    await running;
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.syncs).toEqual([300, 300]);
    expect(acknowledged).toBe(true);
    expect(shown).toEqual([]);
  });

  it('does not acknowledge on a new connection what came on one that ended while its sync ran', async () => {
    const { socket, shown, inbox } = await reopened(range(1, 300));
    socket.answering = false;
    let acknowledged = false;
    socket.handlers.get('notification')!(message(5), () => (acknowledged = true));
    await new Promise((resolve) => setImmediate(resolve));
    // The connection drops and comes back (to another gateway, perhaps) before the sync is answered.
    socket.id = 'sid-2';
    socket.release();
    await inbox.sync();
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.syncs.length).toBeGreaterThan(0);
    expect(acknowledged).toBe(false);
    // The server sends it again on the new connection, and that one is acknowledged; nothing is shown twice.
    expect(await socket.sent('notification', [message(5)])).toEqual({ ok: true });
    expect(shown).toEqual([]);
  });

  describe('reads on the user’s other devices', () => {
    /** An inbox whose onMessages and onRead write to one log, on a socket double whose server holds `held` and `readLog`. */
    const openReading = (storage: MemoryStorage, held: InboxMessage[], readLog: string[][]) => {
      const socket = new SocketDouble();
      socket.held = held;
      socket.readLog = readLog;
      const log: string[] = [];
      const errors: string[] = [];
      const inbox = new NotificationInbox({
        io: (_url, options) => ((socket.options = options as SocketDouble['options']), socket),
        url: 'http://gateway',
        token: tokenFor('u-1'),
        storage,
        onMessages: (messages) => void log.push(`shown ${messages.map((m) => m.id).join()}`),
        onRead: (ids) => void log.push(`read ${ids.join()}`),
        onStatus: (status, detail) => void (status === 'error' && errors.push(detail ?? '')),
      }).connect();
      return { socket, inbox, log, errors };
    };

    it('tells onRead what was read while it was away, page by page, once the messages are synced, and keeps its read place across a reload', async () => {
      const storage = new MemoryStorage();
      const { socket, inbox, log } = openReading(storage, range(1, 5), [['m-1'], ['m-2', 'm-3'], ['m-4']]);
      socket.handlers.get('connect')!();
      await inbox.sync();
      expect(log).toEqual(['shown m-1,m-2,m-3,m-4,m-5', 'read m-1,m-2,m-3', 'read m-4']);
      expect(socket.syncReadsAsked).toEqual([0, 2]);
      expect(inbox.lastReadSeq).toBe(3);

      // Reloaded: only the read made since.
      const again = openReading(storage, range(1, 5), [['m-1'], ['m-2', 'm-3'], ['m-4'], ['m-5']]);
      again.socket.handlers.get('connect')!();
      await again.inbox.sync();
      expect(again.log).toEqual(['read m-5']);
      expect(again.socket.syncReadsAsked).toEqual([3]);
    });

    it('remembers which messages were read, told by a sync, another device or marked here, across a reload', async () => {
      const storage = new MemoryStorage();
      const { socket, inbox } = openReading(storage, range(1, 5), [['m-1'], ['m-2']]);
      socket.handlers.get('connect')!();
      await inbox.sync();
      socket.handlers.get('read')!({ ids: ['m-3'] });
      await expect(inbox.markRead(['m-4'])).resolves.toEqual({ ok: true });
      const readOf = (held: NotificationInbox) => held.list().map((m) => `${m.id}${held.isRead(m.id) ? ' read' : ''}`);
      expect(readOf(inbox)).toEqual(['m-1 read', 'm-2 read', 'm-3 read', 'm-4 read', 'm-5']);

      // Reloaded: the reads already told are not told again, and the messages restored keep theirs.
      const again = openReading(storage, range(1, 5), [['m-1'], ['m-2']]);
      expect(readOf(again.inbox)).toEqual(['m-1 read', 'm-2 read', 'm-3 read', 'm-4 read', 'm-5']);
      again.socket.handlers.get('connect')!();
      await again.inbox.sync();
      expect(again.log).toEqual([]);
      // The saved messages are still plain messages.
      expect(again.inbox.list()[0]).not.toHaveProperty('read');
    });

    it('asks for every read again once, from a place saved by the version before read marks, and marks the messages read', async () => {
      const storage = new MemoryStorage();
      const messages = range(1, 3);
      storage.setItem('notify-inbox:u-1:default@http://gateway', JSON.stringify({ lastSeq: 3, lastReadSeq: 2, messages }));
      const { socket, inbox, log } = openReading(storage, messages, [['m-1'], ['m-2']]);
      socket.handlers.get('connect')!();
      await inbox.sync();
      expect(socket.syncReadsAsked).toEqual([0]);
      expect(log).toEqual(['read m-1,m-2']);
      expect(['m-1', 'm-2', 'm-3'].map((id) => inbox.isRead(id))).toEqual([true, true, false]);
    });

    it('keeps the read marks another tab saved for messages this tab has not been told of yet', async () => {
      const storage = new MemoryStorage();
      // A tab whose gateway has not answered its syncReads yet…
      const behind = openReading(storage, range(1, 3), [['m-1']]);
      behind.socket.answeringReads = 'later';
      behind.socket.handlers.get('connect')!();
      await eventually(async () => behind.socket.syncReadsAsked.length, (n) => n === 1);
      // …while another tab is told m-1 was read, and saves that…
      const told = openReading(storage, range(1, 3), [['m-1']]);
      told.socket.handlers.get('connect')!();
      await told.inbox.sync();
      expect(told.inbox.isRead('m-1')).toBe(true);
      // …then saves a message that arrived meanwhile.
      let acknowledged = false;
      behind.socket.handlers.get('notification')!(message(4), () => (acknowledged = true));
      await eventually(async () => acknowledged, Boolean);
      expect(behind.inbox.isRead('m-1')).toBe(false);
      const reloaded = openReading(storage, range(1, 4), [['m-1']]);
      expect(['m-1', 'm-4'].map((id) => reloaded.inbox.isRead(id))).toEqual([true, false]);
    });

    it('asks for the reads again after a wait when the gateway answers syncReads busy, not only at the next sync', async () => {
      jest.useFakeTimers();
      try {
        const { socket, inbox, log, errors } = openReading(new MemoryStorage(), range(1, 2), [['m-1']]);
        socket.readsFailures = ['busy', 'busy'];
        socket.handlers.get('connect')!();
        await jest.advanceTimersByTimeAsync(0);
        expect([log, socket.syncReadsAsked]).toEqual([['shown m-1,m-2'], [0]]);
        await jest.advanceTimersByTimeAsync(1_000);
        expect(socket.syncReadsAsked).toEqual([0, 0]);
        await jest.advanceTimersByTimeAsync(1_999);
        expect(socket.syncReadsAsked).toEqual([0, 0]); // the second wait is twice as long
        await jest.advanceTimersByTimeAsync(1);
        expect([log, inbox.lastReadSeq, socket.syncs]).toEqual([['shown m-1,m-2', 'read m-1'], 1, [0]]);
        expect(errors).toEqual(['syncReads failed: busy: too many requests waiting', 'syncReads failed: busy: too many requests waiting']);
      } finally {
        jest.useRealTimers();
      }
    });

    it('keeps the messages synced when syncReads times out or fails, and asks again after a wait while connected, not only at the next sync', async () => {
      jest.useFakeTimers();
      try {
        const { socket, inbox, log, errors } = openReading(new MemoryStorage(), range(1, 2), [['m-1']]);
        // A database's stall: the first answer does not come in time, the next is an error.
        socket.answeringReads = false;
        socket.handlers.get('connect')!();
        await jest.advanceTimersByTimeAsync(0);
        expect([log, errors, inbox.lastSeq, inbox.lastReadSeq]).toEqual([['shown m-1,m-2'], ['syncReads failed: timeout: operation has timed out'], 2, 0]);
        socket.answeringReads = true;
        socket.readsFailures = ['internal'];
        await jest.advanceTimersByTimeAsync(1_000);
        expect(socket.syncReadsAsked).toEqual([0, 0]);
        expect(errors).toEqual(['syncReads failed: timeout: operation has timed out', 'syncReads failed: internal: too many requests waiting']);
        await jest.advanceTimersByTimeAsync(2_000);
        expect([log, inbox.lastReadSeq, socket.syncReadsAsked, socket.syncs]).toEqual([['shown m-1,m-2', 'read m-1'], 1, [0, 0, 0], [0]]);
      } finally {
        jest.useRealTimers();
      }
    });

    it('asks for the reads again no more once disconnected: the next connection syncs anew', async () => {
      jest.useFakeTimers();
      try {
        const { socket, log } = openReading(new MemoryStorage(), range(1, 2), [['m-1']]);
        socket.readsFailures = ['internal'];
        socket.handlers.get('connect')!();
        await jest.advanceTimersByTimeAsync(0);
        expect(socket.syncReadsAsked).toEqual([0]);
        (socket as unknown as { connected: boolean }).connected = false;
        socket.handlers.get('disconnect')!('transport close');
        await jest.advanceTimersByTimeAsync(60_000);
        expect([log, socket.syncReadsAsked]).toEqual([['shown m-1,m-2'], [0]]);
        // Failed while disconnected (Socket.IO's timeout of an emit held meanwhile): not asked again either.
        const inbox = openReading(new MemoryStorage(), range(1, 2), [['m-1']]);
        inbox.socket.answeringReads = false;
        inbox.socket.handlers.get('connect')!();
        (inbox.socket as unknown as { connected: boolean }).connected = false;
        await jest.advanceTimersByTimeAsync(60_000);
        expect(inbox.socket.syncReadsAsked).toEqual([0]);
      } finally {
        jest.useRealTimers();
      }
    });

    it('drops a syncReads asked again later when its connection drops, so it never runs beside the next connection’s sync', async () => {
      jest.useFakeTimers();
      try {
        const { socket, log } = openReading(new MemoryStorage(), range(1, 2), [['m-1']]);
        socket.readsFailures = ['internal'];
        socket.handlers.get('connect')!();
        await jest.advanceTimersByTimeAsync(0);
        expect(socket.syncReadsAsked).toEqual([0]);
        // Back before the retry's time: the new connection syncs, then asks for the reads once.
        socket.handlers.get('disconnect')!('transport close');
        socket.handlers.get('connect')!();
        await jest.advanceTimersByTimeAsync(60_000);
        expect([log, socket.syncReadsAsked]).toEqual([['shown m-1,m-2', 'read m-1'], [0, 0]]);
      } finally {
        jest.useRealTimers();
      }
    });

    it('acknowledges a message it waited for a sync to place once the messages are synced, not the reads', async () => {
      const storage = new MemoryStorage();
      const first = openReading(storage, range(1, 300), []);
      first.socket.handlers.get('connect')!();
      await first.inbox.sync();
      // Reloaded (only the newest 200 kept), on a gateway whose syncReads answers only after the
      // acknowledgement timeout: an old message sent again waits for a sync, and only for its messages.
      const reloaded = openReading(storage, range(1, 300), [['m-1']]);
      reloaded.socket.answeringReads = 'later';
      expect(await reloaded.socket.sent('notification', [message(5)])).toEqual({ ok: true });
      expect(reloaded.log).toEqual([]);
    });

    it('goes on syncing, and moves its read place, when onRead throws', async () => {
      const socket = new SocketDouble();
      socket.held = range(1, 2);
      socket.readLog = [['m-1'], ['m-2']];
      const errors: string[] = [];
      const inbox = new NotificationInbox({
        io: (_url, options) => ((socket.options = options as SocketDouble['options']), socket),
        url: 'http://gateway',
        token: tokenFor('u-1'),
        onRead: () => {
          throw new Error('page bug');
        },
        onStatus: (status, detail) => void (status === 'error' && errors.push(detail ?? '')),
      }).connect();
      socket.handlers.get('connect')!();
      await inbox.sync();
      socket.handlers.get('read')!({ ids: ['m-2'] });
      expect([inbox.lastSeq, inbox.lastReadSeq, errors]).toEqual([2, 2, ['onRead failed: page bug', 'onRead failed: page bug']]);
    });

    it('asks for every read again after the server’s messages were found reset below its place', async () => {
      const storage = new MemoryStorage();
      const first = openReading(storage, range(1, 5), [['m-1'], ['m-2'], ['m-3']]);
      first.socket.handlers.get('connect')!();
      await first.inbox.sync();
      // Restored: three messages, and two reads made since the restore, so its read numbers reach ours again.
      const restored = openReading(storage, range(1, 3), [['m-1'], ['m-2'], ['m-3']]);
      restored.socket.handlers.get('connect')!();
      await restored.inbox.sync();
      expect(restored.socket.syncReadsAsked).toEqual([0, 2]);
      expect(restored.log).toEqual(['read m-1,m-2', 'read m-3']);
    });

    it('keeps the message place another tab saved when only the server’s read numbers were reset', async () => {
      const storage = new MemoryStorage();
      const saved = () => JSON.parse(storage.getItem('notify-inbox:u-1:default@http://gateway')!) as { lastSeq: number; lastReadSeq: number };
      const tab = openReading(storage, range(1, 3), [['m-1'], ['m-2']]);
      tab.socket.handlers.get('connect')!();
      await tab.inbox.sync();
      expect(saved()).toMatchObject({ lastSeq: 3, lastReadSeq: 2 });
      // Another tab, further on, saves its place; then this one finds the read numbers reset.
      const further = openReading(storage, range(1, 6), [['m-1'], ['m-2']]);
      further.socket.handlers.get('connect')!();
      await further.inbox.sync();
      expect(saved()).toMatchObject({ lastSeq: 6, lastReadSeq: 2 });
      tab.socket.readLog = [['m-3']];
      await tab.inbox.sync();
      expect(tab.log.at(-1)).toBe('read m-3');
      expect(saved()).toMatchObject({ lastSeq: 6, lastReadSeq: 1 });
    });

    it('starts again from the first read when the server’s read numbers end below its own (a restored database)', async () => {
      const storage = new MemoryStorage();
      const first = openReading(storage, range(1, 3), [['m-1'], ['m-2'], ['m-3']]);
      first.socket.handlers.get('connect')!();
      await first.inbox.sync();
      expect(first.inbox.lastReadSeq).toBe(3);

      const restored = openReading(storage, range(1, 3), [['m-2']]);
      restored.socket.handlers.get('connect')!();
      await restored.inbox.sync();
      expect(restored.log).toEqual(['read m-2']);
      expect(restored.socket.syncReadsAsked).toEqual([3, 0]);
      expect(restored.inbox.lastReadSeq).toBe(1);
    });
  });
});
