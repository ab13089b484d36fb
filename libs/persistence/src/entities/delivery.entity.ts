import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, Unique, UpdateDateColumn } from 'typeorm';

/** Internal statuses: `queued` until a channel has taken it; the rest are published on notify.events. */
export const DELIVERY_STATES = ['queued', 'sent', 'delivered', 'failed', 'dead', 'expired', 'read', 'clicked'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** One message to one endpoint over one channel, with its attempts and outcome. */
@Entity('deliveries')
@Unique('uq_deliveries_target', ['messageId', 'channel', 'endpoint'])
@Index('ix_deliveries_user', ['userId', 'createdAt'])
@Index('ix_deliveries_due', ['nextAttemptAt'], { where: "status = 'failed'" })
export class DeliveryEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'message_id', type: 'uuid' })
  messageId!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 128, nullable: true })
  userId!: string | null;

  @Column({ type: 'varchar', length: 16 })
  channel!: string;

  @Column({ type: 'varchar', length: 512 })
  endpoint!: string;

  @Column({ type: 'varchar', length: 16, default: 'queued' })
  status!: DeliveryState;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  @Column({ name: 'last_error', type: 'text', nullable: true })
  lastError!: string | null;

  @Column({ name: 'next_attempt_at', type: 'timestamptz', nullable: true })
  nextAttemptAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;

  @Column({ name: 'delivered_at', type: 'timestamptz', nullable: true })
  deliveredAt!: Date | null;
}
