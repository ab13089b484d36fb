import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** How a message's failed deliveries are re-sent: exponential backoff with full jitter, then `dead`. */
export interface RetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** SMS and email: one digest per receiver instead of each message on its own. */
  digest?: boolean;
}

/** One notification request as accepted. Partitioned by week on `createdAt`; the id carries that time. */
@Entity('messages')
export class MessageEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @PrimaryColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'request_id', type: 'varchar', length: 128 })
  requestId!: string;

  @Column({ type: 'varchar', length: 128 })
  type!: string;

  @Column({ type: 'jsonb' })
  recipient!: Record<string, unknown>;

  @Column({ type: 'jsonb', default: () => "'{}'" })
  data!: Record<string, unknown>;

  /** Title and body rendered per locale: `{ "zh-CN": { "title": …, "body": … } }`. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  contents!: Record<string, { title: string; body: string }>;

  @Column({ type: 'varchar', length: 35, nullable: true })
  locale!: string | null;

  @Column({ type: 'varchar', length: 8, default: 'normal' })
  priority!: string;

  /** The route's retry policy when the message was accepted: the resend poller goes by it. */
  @Column({ type: 'jsonb', default: () => "'{}'" })
  retry!: RetryPolicy;

  @Column({ name: 'send_at', type: 'timestamptz', nullable: true })
  sendAt!: Date | null;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;
}


/** The producer's idempotency key: a request id is accepted once (within the retention period). */
@Entity('request_keys')
@Index('ix_request_keys_created', ['createdAt'])
export class RequestKeyEntity {
  @PrimaryColumn({ name: 'request_id', type: 'varchar', length: 128 })
  requestId!: string;

  @Column({ name: 'message_id', type: 'uuid' })
  messageId!: string;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
