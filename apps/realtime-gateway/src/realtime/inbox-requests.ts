import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import type { Socket } from 'socket.io';
import type { ClientToServerEvents, OutcomeEvent, ReadResponse, ServerToClientEvents, SyncResponse } from '@notify/contracts';
import { KAFKA_PRODUCER, publishOutcomes } from '@notify/kafka';
import { APP_LOGGER, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, AFTER_COMMIT_RETRY_POLICY, afterCommit, InboxStore, type AfterCommitRetry } from '@notify/persistence';
import { internalError, invalidArgument, ReadRequestSchema, SyncRequestSchema } from './client-requests';
import { userRoom } from './rooms';

export interface SocketData {
  userId: string;
  deviceId: string | null;
  /** When the token expires (ms since the epoch): the socket is disconnected then. */
  expiresAt: number;
}

export type NotificationSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** The client's own requests: `sync` (what is newer than my last sequence number) and `read`. */
@Injectable()
export class InboxRequests implements OnModuleDestroy {
  /** `read` events still being published; shutting down waits for them. */
  private readonly publishing = new Set<Promise<void>>();

  constructor(
    private readonly inbox: InboxStore,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Optional() @Inject(AFTER_COMMIT_RETRY_POLICY) private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
  ) {}

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.publishing);
  }

  attach(socket: NotificationSocket): void {
    socket.on('sync', (payload, ack) => void this.answer(ack, () => this.sync(socket, payload)));
    socket.on('read', (payload, ack) => void this.answer(ack, () => this.read(socket, payload)));
  }

  private async sync(socket: NotificationSocket, payload: unknown): Promise<SyncResponse> {
    const request = SyncRequestSchema.safeParse(payload);
    if (!request.success) return invalidArgument(request.error);
    return this.inbox.after(socket.data.userId, request.data.afterSeq, request.data.limit);
  }

  /**
   * Marks messages read for the user and tells the user's other devices. The client is answered once
   * the read is stored: the `read` events are the platform's to publish, and a failed publish is tried
   * again in place rather than reported to a client whose read did count (asking again would find
   * nothing left to mark, and the events would never be published).
   */
  private async read(socket: NotificationSocket, payload: unknown): Promise<ReadResponse> {
    const request = ReadRequestSchema.safeParse(payload);
    if (!request.success) return invalidArgument(request.error);
    const { read, events } = await this.inbox.markRead(socket.data.userId, request.data.ids);
    if (read.length > 0) socket.to(userRoom(socket.data.userId)).emit('read', { ids: read });
    this.publish(events);
    return { ok: true };
  }

  private publish(events: OutcomeEvent[]): void {
    if (events.length === 0) return;
    const published: Promise<void> = afterCommit('publishing read events', () => publishOutcomes(this.producer, events), this.logger, this.retry)
      .catch((error: unknown) => this.logger.error({ err: error, count: events.length }, 'stored reads could not be published on notify.events'))
      .finally(() => this.publishing.delete(published));
    this.publishing.add(published);
  }

  private async answer<T>(ack: unknown, work: () => Promise<T>): Promise<void> {
    if (typeof ack !== 'function') return;
    try {
      ack(await work());
    } catch (error) {
      this.logger.error({ err: error }, 'client request failed');
      ack(internalError());
    }
  }
}
