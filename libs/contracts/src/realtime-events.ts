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

/** Which messages were read on any device after read number `afterReadSeq` (an addition to the contract). */
export interface SyncReadsRequest {
  afterReadSeq: number;
}
export type SyncReadsResponse = { ids: string[]; lastReadSeq: number; hasMore: boolean } | { notModified: true; lastReadSeq: number } | AckError;

/** What the client acknowledges with once it has stored the message(s). */
export type StoredAck = { ok: true } | AckError | undefined;

/**
 * Whether an acknowledgement says the message was stored: yes unless it carries an error. An empty
 * error field, as Jackson, .NET or a Go struct writes one (`null`, `false`, `""`, `0`), is no error; any
 * other error — the contract's object, or a client's bare message or code — is, so the message is sent
 * again rather than taken for stored.
 */
export function acknowledgesStored(reply: unknown): boolean {
  if (typeof reply !== 'object' || reply === null) return true;
  return !(reply as { error?: unknown }).error;
}

export interface ServerToClientEvents {
  notification: (message: InboxMessage, ack: (reply?: StoredAck) => void) => void;
  notifications: (messages: InboxMessage[], ack: (reply?: StoredAck) => void) => void;
  read: (payload: ReadRequest) => void;
}

export interface ClientToServerEvents {
  sync: (request: SyncRequest, ack: (response: SyncResponse) => void) => void;
  read: (request: ReadRequest, ack: (response: ReadResponse) => void) => void;
  syncReads: (request: SyncReadsRequest, ack: (response: SyncReadsResponse) => void) => void;
}

/** What a client sends in the Socket.IO handshake (`auth`). */
export interface HandshakeAuth {
  token: string;
  /** Accepted and not used by the gateway today: each connection is its own device for acknowledgements. */
  deviceId?: string;
}
