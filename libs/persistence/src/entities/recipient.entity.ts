import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** A user's contact points and preferences, kept from notify.recipients. */
@Entity('recipients')
export class RecipientEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ type: 'varchar', length: 16, nullable: true })
  phone!: string | null;

  @Column({ type: 'varchar', length: 320, nullable: true })
  email!: string | null;

  @Column({ type: 'varchar', length: 35, nullable: true })
  locale!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  timezone!: string | null;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}

/** A phone or tablet registered for vendor push; deactivated when its provider says the token is dead. */
@Entity('devices')
@Index('ix_devices_token', { synchronize: false })
@Index('ix_devices_inactive', { synchronize: false })
export class DeviceEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @PrimaryColumn({ name: 'device_id', type: 'varchar', length: 128 })
  deviceId!: string;

  @Column({ type: 'varchar', length: 16 })
  provider!: string;

  @Column({ type: 'varchar', length: 4096 })
  token!: string;

  @Column({ type: 'varchar', length: 35, nullable: true })
  locale!: string | null;

  @Column({ type: 'boolean', default: true })
  active!: boolean;

  @Column({ name: 'deactivated_reason', type: 'text', nullable: true })
  deactivatedReason!: string | null;

  /** When its registration was made: a token goes to its newest registration (migration 21). */
  @Column({ name: 'registered_at', type: 'timestamptz', default: () => 'now()' })
  registeredAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}

/** Per push token (its md5), when the newest registration of it was made, whichever device made it. */
@Entity('push_tokens')
export class PushTokenEntity {
  @PrimaryColumn({ type: 'varchar', length: 16 })
  provider!: string;

  /** text, not char(32): compared with md5()'s text, a char column would not be read through its key. */
  @PrimaryColumn({ name: 'token_md5', type: 'text' })
  tokenMd5!: string;

  @Column({ name: 'registered_at', type: 'timestamptz' })
  registeredAt!: Date;
}

@Entity('topic_subscriptions')
@Index('ix_topic_subscriptions_user', ['userId'])
export class TopicSubscriptionEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  topic!: string;

  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;
}
