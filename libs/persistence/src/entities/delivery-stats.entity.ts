import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Outcome counters, written only by the triggers of migration 1763600000011: each is the number of
 * deliveries whose current row has the property (see `DeliveryStatsStore`).
 */
abstract class DeliveryCounters {
  @Column({ type: 'bigint', default: 0 })
  sent!: string;

  @Column({ type: 'bigint', default: 0 })
  delivered!: string;

  @Column({ type: 'bigint', default: 0 })
  failed!: string;

  @Column({ type: 'bigint', default: 0 })
  dead!: string;

  @Column({ type: 'bigint', default: 0 })
  read!: string;

  @Column({ type: 'bigint', default: 0 })
  clicked!: string;
}

/** Counters per type and UTC day of the message, split into slots so concurrent writers rarely share a row. */
@Entity('daily_delivery_stats')
@Index('ix_daily_delivery_stats_day', ['day'])
export class DailyDeliveryStatsEntity extends DeliveryCounters {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  type!: string;

  @PrimaryColumn({ type: 'date' })
  day!: string;

  @PrimaryColumn({ type: 'smallint' })
  slot!: number;

  @Column({ type: 'bigint', default: 0 })
  requested!: string;
}

/** Counters of one request's deliveries. */
@Entity('request_delivery_stats')
export class RequestDeliveryStatsEntity extends DeliveryCounters {
  @PrimaryColumn({ name: 'request_id', type: 'varchar', length: 128 })
  requestId!: string;

  @Column({ type: 'varchar', length: 128 })
  type!: string;

  @Column({ type: 'date' })
  day!: string;
}
