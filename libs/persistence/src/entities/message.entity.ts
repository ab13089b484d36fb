import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** One notification request as accepted. Partitioned by day on `createdAt`; the id carries that time. */
@Entity('messages')
@Index('ix_messages_type_created', ['type', 'createdAt'])
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

  @Column({ type: 'varchar', length: 35, nullable: true })
  locale!: string | null;

  @Column({ type: 'varchar', length: 8, default: 'normal' })
  priority!: string;

  @Column({ name: 'send_at', type: 'timestamptz', nullable: true })
  sendAt!: Date | null;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;
}

/** A message's title and body rendered for one locale. */
@Entity('message_contents')
export class MessageContentEntity {
  @PrimaryColumn({ name: 'message_id', type: 'uuid' })
  messageId!: string;

  @PrimaryColumn({ type: 'varchar', length: 35 })
  locale!: string;

  @PrimaryColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ type: 'text' })
  title!: string;

  @Column({ type: 'text' })
  body!: string;
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
