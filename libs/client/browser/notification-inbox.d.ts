import type { InboxMessage } from '@notify/contracts';

export interface InboxStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

export interface InboxOptions {
  io: (url: string, options: object) => unknown;
  url: string;
  token: string;
  deviceId?: string;
  storage?: InboxStorage;
  pageSize?: number;
  onMessages?: (messages: InboxMessage[]) => void;
  onRead?: (ids: string[]) => void;
  onStatus?: (status: 'connected' | 'disconnected' | 'error', detail?: string) => void;
}

export declare class NotificationInbox {
  constructor(options: InboxOptions);
  readonly lastSeq: number;
  connect(): this;
  disconnect(): void;
  sync(): Promise<void>;
  markRead(ids: string[]): Promise<{ ok: true } | { error: { code: string; message: string } }>;
  list(): InboxMessage[];
}
