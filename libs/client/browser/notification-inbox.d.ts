/** A message as a Socket.IO client sees it (contract section 4). Spelled out here: this file and its module are all an application needs. */
export interface InboxMessage {
  id: string;
  seq: number;
  type: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  /** Where the message leads, when it has a link: its tracked link (`/c/{token}`) when the platform tracks clicks. */
  url?: string;
  createdAt: string;
}

export interface InboxStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  /** When given (localStorage has it), a place saved by the versions before, without the gateway in its key, is removed once taken over. */
  removeItem?(key: string): void;
}

export interface InboxOptions {
  io: (url: string, options: object) => unknown;
  url: string;
  /** The JWT, or a function asked for one at every connection attempt (then `userId` is needed too). */
  token: string | (() => string | Promise<string>);
  /** Whose inbox this is; read from a string token's `sub` when not given. */
  userId?: string;
  deviceId?: string;
  storage?: InboxStorage;
  /** Messages per sync page (100, at most 500); halved after a page that timed out, until the sync has caught up. */
  pageSize?: number;
  /** The first wait before a failed sync or connection is tried again (1 s); it doubles up to 30 s. */
  syncRetryMs?: number;
  /** Messages kept in memory (1,000); the oldest already counted in `lastSeq` go first. */
  maxHeld?: number;
  onMessages?: (messages: InboxMessage[]) => void;
  /**
   * Messages the user read: on another device as it happens while connected, and, after each sync,
   * every read since the last one told (`syncReads`), this device's own included. An id may come
   * again, or name a message this inbox no longer holds. A callback that throws is reported through
   * `onStatus` and does not stop the sync.
   */
  onRead?: (ids: string[]) => void;
  onStatus?: (status: 'connected' | 'disconnected' | 'error', detail?: string) => void;
}

export declare class NotificationInbox {
  constructor(options: InboxOptions);
  readonly lastSeq: number;
  /** The user's last read that `onRead` has told of, kept with the place. */
  readonly lastReadSeq: number;
  connect(): this;
  disconnect(): void;
  sync(): Promise<void>;
  /** Any number of ids: sent 500 at a time, the most the gateway takes in one request. */
  markRead(ids: string[]): Promise<{ ok: true } | { error: { code: string; message: string } }>;
  /**
   * Whether the user has read a message this inbox holds: marked here, or told of by another device
   * or a sync (`onRead`). Kept with the message across a reload, where the reads already told are not
   * told again.
   */
  isRead(id: string): boolean;
  list(): InboxMessage[];
}
