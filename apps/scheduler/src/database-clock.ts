import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { AppLogger } from '@notify/observability';

/** How often the offset is measured again: a host's clock drifts, or is stepped by NTP, while the scheduler runs. */
const MEASURE_EVERY_MS = 60_000;
/** A host clock further than this from the database's is logged as a warning. */
const SKEW_WARNING_MS = 5_000;
/** At most one skew warning this often: measured every minute, a host off for a day would log 1,440. */
const WARN_EVERY_MS = 3_600_000;

/**
 * The scheduler's time: the database's, read as the host's clock plus their offset, measured at start
 * and every minute (`SELECT now()` against the midpoint of its round trip). Leases are written by the
 * database's clock (`now()` in the claims of the gateway, the channel worker and the fallback), and
 * the scheduler decides when they ran out: by its own clock, a host 90 s ahead took a browser send's
 * 80-s lease for run out at its next poll, failed it and released its push fallback while the
 * browser's acknowledgement was on its way.
 */
export class DatabaseClock implements OnModuleInit, OnApplicationShutdown {
  private offsetMs = 0;
  private warnedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private measuring: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: AppLogger,
    private readonly hostNow: () => number = Date.now,
  ) {}

  /** The database's time now. */
  readonly now = (): Date => new Date(this.hostNow() + this.offsetMs);

  /**
   * The first measurement, before the pollers start (`onApplicationBootstrap`) so that their first
   * poll goes by the database's time; a scheduler that cannot read it does not start.
   */
  async onModuleInit(): Promise<void> {
    await this.measure();
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.measuring;
  }

  /** Measures the offset again (every minute by its own timer); throws when the database could not be read, the last offset kept. */
  async measure(): Promise<void> {
    // A connection of its own first: a wait for one of the pool's would count in the round trip.
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.connect();
      const sentAt = this.hostNow();
      // now() is the start of the statement's own transaction: the time the query came.
      const [row] = (await runner.query(`SELECT now() AS "databaseNow"`)) as { databaseNow: Date }[];
      const answeredAt = this.hostNow();
      this.offsetMs = row!.databaseNow.getTime() - (sentAt + answeredAt) / 2;
    } finally {
      await runner.release();
    }
    this.warnIfSkewed();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.measuring = this.measure()
        .catch((err: unknown) => this.logger.warn({ err }, "could not read the database's clock; the scheduler goes by the offset measured before"))
        .finally(() => {
          if (!this.stopped) this.schedule();
        });
    }, MEASURE_EVERY_MS);
    // The timer alone does not keep the process alive.
    this.timer.unref();
  }

  private warnIfSkewed(): void {
    const skewMs = Math.round(-this.offsetMs);
    if (Math.abs(skewMs) <= SKEW_WARNING_MS) return;
    const at = this.hostNow();
    if (this.warnedAt !== undefined && at - this.warnedAt < WARN_EVERY_MS) return;
    this.warnedAt = at;
    this.logger.warn({ skewMs }, "this host's clock is off from the database's (skewMs: host minus database); the scheduler goes by the database's, as leases do; set the host's clock right (NTP)");
  }
}
