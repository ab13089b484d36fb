import type { InboxMessage } from '@notify/contracts';
import { NotificationInbox, type InboxStorage } from '../browser/notification-inbox.js';

/** What the module asks of a Socket.IO client: handlers by event, and requests that go unanswered here. */
class SocketDouble {
  readonly handlers = new Map<string, (...args: unknown[]) => void>();
  on(event: string, handler: (...args: unknown[]) => void): this {
    this.handlers.set(event, handler);
    return this;
  }
  timeout(): this {
    return this;
  }
  emit(): void {}
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
