import type { InboxMessage } from '@notify/contracts';
import { NotificationInbox, type InboxStorage } from '../browser/notification-inbox.js';

/**
 * What the module asks of a Socket.IO client: handlers by event, and `sync` answered as the gateway
 * does from the messages the server still holds (`held`, in sequence order); other requests go unanswered.
 */
class SocketDouble {
  readonly handlers = new Map<string, (...args: unknown[]) => void>();
  held: InboxMessage[] = [];
  readonly syncs: number[] = [];
  on(event: string, handler: (...args: unknown[]) => void): this {
    this.handlers.set(event, handler);
    return this;
  }
  timeout(): this {
    return this;
  }
  emit(event: string, payload: { afterSeq: number; limit: number }, answer: (error: Error | null, reply: unknown) => void): void {
    if (event !== 'sync') return;
    this.syncs.push(payload.afterSeq);
    // A client that asks for the same page again and again gets an error rather than a test that never ends.
    if (this.syncs.length > 20) return answer(null, { error: { code: 'too_many', message: 'sync loop' } });
    const lastSeq = this.held.reduce((last, m) => Math.max(last, m.seq), 0);
    if (payload.afterSeq >= lastSeq) return answer(null, { notModified: true, lastSeq });
    const after = this.held.filter((m) => m.seq > payload.afterSeq);
    answer(null, { messages: after.slice(0, payload.limit), lastSeq, hasMore: after.length > payload.limit });
  }
  disconnect(): void {}
  /** The server sends a resend batch; resolves with whether the client acknowledged it. */
  deliver(messages: InboxMessage[]): boolean {
    let acknowledged = false;
    this.handlers.get('notifications')!(messages, () => (acknowledged = true));
    return acknowledged;
  }
}

class MemoryStorage implements InboxStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

const message = (seq: number): InboxMessage => ({ id: `m-${seq}`, seq, type: 'account.note', title: `message ${seq}`, body: 'b', data: {}, createdAt: '2026-12-03T10:00:00.000Z' });
const bySeq = (a: string, b: string) => Number(a.slice(2)) - Number(b.slice(2));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => message(from + i));

/** A token's shape as the module reads it (unsigned here: the gateway is the one that checks it). */
const tokenFor = (sub: string) => `e30.${Buffer.from(JSON.stringify({ sub })).toString('base64url')}.sig`;

/** An inbox on a socket double, recording what it shows. */
function open(storage: MemoryStorage, userId = 'u-1') {
  const socket = new SocketDouble();
  const shown: string[] = [];
  const inbox = new NotificationInbox({
    io: () => socket,
    url: 'http://gateway',
    token: tokenFor(userId),
    storage,
    onMessages: (messages) => shown.push(...messages.map((m) => m.id)),
  }).connect();
  return { socket, shown, inbox };
}

describe('NotificationInbox', () => {
  it('shows a resent message once even after a reload that kept only the newest messages', () => {
    const storage = new MemoryStorage();
    const first = open(storage);
    expect(first.socket.deliver(range(1, 300))).toBe(true);
    expect(first.shown).toHaveLength(300);

    // The page reloads; storage holds the newest 200. The resend poller sends message 5 again
    // (its acknowledgement was lost): acknowledged, not shown.
    const reloaded = open(storage);
    expect(reloaded.inbox.lastSeq).toBe(300);
    expect(reloaded.socket.deliver([message(5), message(301)])).toBe(true);
    expect(reloaded.shown).toEqual(['m-301']);
  });

  it('counts a message held beyond a gap across a reload, once the gap is filled', () => {
    const storage = new MemoryStorage();
    const first = open(storage);
    first.socket.deliver([...range(1, 3), message(5)]);
    expect(first.inbox.lastSeq).toBe(3);

    const reloaded = open(storage);
    reloaded.socket.deliver([message(4)]);
    expect(reloaded.inbox.lastSeq).toBe(5);
    expect(reloaded.shown).toEqual(['m-4']);
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
    first.socket.held = [...range(1, 49), ...range(51, 60)]; // 50 is gone: its partition was dropped
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
});
