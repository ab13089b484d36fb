import { Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

/**
 * `held` waits for its release time or for the tier before it to fail; `queued` is waiting for its
 * channel; `cancelled` was never needed (an earlier tier delivered). The rest are the statuses of
 * contract section 3, published on notify.events.
 */
export const DELIVERY_STATES = ['held', 'queued', 'cancelled', 'sent', 'delivered', 'failed', 'dead', 'expired', 'read', 'clicked'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** One message to one endpoint over one channel, with its attempts and outcome. Partitioned like messages. */
@Entity('deliveries')
// NULLS NOT DISTINCT in the migration (1763600000017): a bare endpoint without a user is unique too.
@Unique('uq_deliveries_target', ['messageId', 'channel', 'endpoint', 'userId', 'createdAt'])
@Index('ix_deliveries_user', ['userId', 'createdAt'])
@Index('ix_deliveries_due', { synchronize: false })
@Index('ix_deliveries_leased', { synchronize: false })
@Index('ix_deliveries_held_expiry', { synchronize: false })
@Index('ix_deliveries_pending_receiver', { synchronize: false })
@Index('ix_deliveries_failed_unscheduled', { synchronize: false })
@Index('ix_deliveries_receipt_key', { synchronize: false })
@Index('ix_deliveries_held_due', { synchronize: false })
export class DeliveryEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @PrimaryColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'message_id', type: 'uuid' })
  messageId!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128, nullable: true })
  userId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  channel!: string;

  @Column({ type: 'varchar', length: 512 })
  endpoint!: string;

  @Column({ type: 'varchar', length: 35 })
  locale!: string;

  /** The fallback step: tier 0 goes first, tier n+1 only when tier n did not reach the user. */
  @Column({ type: 'smallint', default: 0 })
  tier!: number;

  /** For a websocket delivery: the message's sequence number in the user's inbox, once it is there. */
  @Column({ type: 'bigint', nullable: true })
  seq!: string | null;

  @Column({ type: 'varchar', length: 16 })
  status!: DeliveryState;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt!: Date | null;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;

  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true })
  deliveredAt!: Date | null;

  /** What a vendor's delivery receipt names the last accepted send by (architecture D24); null without one. */
  @Column({ name: 'receipt_key', type: 'varchar', length: 300, nullable: true })
  receiptKey!: string | null;
}
