import { type BeforeApplicationShutdown, Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Gauge } from 'prom-client';
import { FATAL_ERROR_HANDLER, type FatalErrorHandler } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { maintainPartitions } from '@notify/persistence';
import { CLOCK, type Clock } from '../ingestion/request-ingestion';

export interface RetentionSettings {
  retentionDays: number;
  partitionDaysAhead: number;
}
export const RETENTION_SETTINGS = Symbol('RETENTION_SETTINGS');

const EVERY_MS = 3_600_000;

/**
 * A run still going after this many hourly runs were skipped for it is taken for stuck, and the
 * process gives up: a purge waiting on a row lock that an idle session holds, or on a server that is
 * gone, never ends, and every later run was skipped for it. Hours more than the longest purge takes.
 */
const STUCK_AFTER_SKIPPED_RUNS = 6;

/**
 * The message center's clock this far from the database's is told about at every run (the drops go
 * by the earlier of the two). It is the database's, counted on from its last measurement (the host's
 * own clock is warned about by `DatabaseClock`), or the one a test gave.
 */
const CLOCK_SKEW_LOGGED_MS = 60_000;

/**
 * Keeps the weekly partitions made ahead and drops those past the retention period: at start, then
 * hourly. The partitions to make are made in `onModuleInit`, which Nest finishes before any
 * `onApplicationBootstrap` starts a consumer: attaching this week's partition while a batch is being
 * inserted into the default one would fail that batch with a partition-constraint error. The drops
 * and the purge of a week's request ids (millions of rows, minutes) go on in the background from
 * there: awaited there too, a message center started after a week ended consumed nothing until they
 * were done. A shutdown ends a run between its steps. `notify_partition_maintenance_last_success_seconds`
 * tells when a run last did all it had to: failed runs showed only as a log line an hour.
 */
@Injectable()
export class PartitionMaintenance implements OnModuleInit, BeforeApplicationShutdown, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  /** Hourly runs skipped for the run still going. */
  private skipped = 0;
  private readonly lastSuccess: Gauge;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(RETENTION_SETTINGS) private readonly settings: RetentionSettings,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    metrics: Metrics,
    @Inject(FATAL_ERROR_HANDLER) private readonly onFatal: FatalErrorHandler,
  ) {
    this.lastSuccess = metrics.gauge(
      'notify_partition_maintenance_last_success_seconds',
      'Unix time of the last partition maintenance run of this instance that did all it had to (0: none yet); the newest of the instances hours old, partitions are not made ahead nor dropped',
    );
  }

  async onModuleInit(): Promise<void> {
    await this.run(true);
    this.runInBackground();
    this.timer = setInterval(() => this.runInBackground(), EVERY_MS);
    this.timer.unref();
  }

  /** The run going on in the background, if any, once it has ended. */
  async idle(): Promise<void> {
    await this.running;
  }

  /** Ends the run going on at its next step, before the database closes. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running;
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  private runInBackground(): void {
    if (this.stopping) return;
    // A run still going (a week's request ids being purged) is not joined by another.
    if (this.running) {
      if (++this.skipped === STUCK_AFTER_SKIPPED_RUNS) this.onFatal(new Error(`partition maintenance has run through ${this.skipped} hourly runs; giving up`));
      return;
    }
    this.skipped = 0;
    this.running = this.run(false)
      .catch((err: unknown) => this.logger.error({ err }, 'partition maintenance failed'))
      .finally(() => (this.running = undefined));
  }

  private async run(onlyCreate: boolean): Promise<void> {
    const now = this.clock();
    const [{ databaseNow }] = await this.dataSource.query<{ databaseNow: Date }[]>(`SELECT now() AS "databaseNow"`);
    const skewMs = now.getTime() - databaseNow.getTime();
    // Told by the run that drops, which goes by it.
    if (!onlyCreate && Math.abs(skewMs) > CLOCK_SKEW_LOGGED_MS) {
      this.logger.error({ skewMs }, "the message center's clock and the database's differ: partitions past retention are dropped by the earlier of the two");
    }
    const report = await maintainPartitions(this.dataSource, {
      now,
      databaseNow,
      daysAhead: this.settings.partitionDaysAhead,
      retentionDays: this.settings.retentionDays,
      onlyCreate,
      stopped: () => this.stopping,
      logger: this.logger,
    });
    if (report.leftToAnother) this.logger.info('partition maintenance left to the instance running it');
    if (report.created.length + report.dropped.length > 0) this.logger.info({ created: report.created, dropped: report.dropped }, 'partitions maintained');
    if (report.notCreated.length > 0) {
      this.logger.warn({ notCreated: report.notCreated }, 'partitions not created, their table stayed locked: rows of their weeks go to the default partition until the next run creates them');
    }
    if (report.notDropped.length > 0) this.logger.warn({ notDropped: report.notDropped }, 'partitions past retention not dropped, their table stayed locked or deliveries of their week have not ended: the next run tries again');
    // Not the start's run, which only makes partitions: each restart of a process whose drops or purges
    // never end would make it look well. Nor one a shutdown cut short.
    if (!onlyCreate && !this.stopping && !report.leftToAnother && report.notCreated.length + report.notDropped.length === 0) this.lastSuccess.set(Date.now() / 1_000);
  }
}
