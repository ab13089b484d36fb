import type { InboxMessage } from './inbox-message';

export const REALTIME_NAMESPACE = '/notifications';
export const MAX_SYNC_LIMIT = 500;

export interface AckError {
  error: { code: string; message: string };
}

export interface SyncRequest {
  afterSeq: number;
  limit?: number;
}
export type SyncResponse =
  | { messages: InboxMessage[]; lastSeq: number; hasMore: boolean }
  | { notModified: true; lastSeq: number }
  | AckError;

export interface ReadRequest {
  ids: string[];
}
export type ReadResponse = { ok: true } | AckError;

/** What the client acknowledges with once it has stored the message(s). */
export type StoredAck = { ok: true } | AckError | undefined;

export interface ServerToClientEvents {
  notification: (message: InboxMessage, ack: (reply?: StoredAck) => void) => void;
  notifications: (messages: InboxMessage[], ack: (reply?: StoredAck) => void) => void;
  read: (payload: ReadRequest) => void;
}

export interface ClientToServerEvents {
  sync: (request: SyncRequest, ack: (response: SyncResponse) => void) => void;
  read: (request: ReadRequest, ack: (response: ReadResponse) => void) => void;
}

export interface HandshakeAuth {
  token: string;
  deviceId?: string;
}
