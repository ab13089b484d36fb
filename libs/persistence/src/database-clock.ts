import type { InjectionToken, OnApplicationShutdown, Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_LOGGER, type AppLogger } from '@notify/observability';

/** How often the database's time is measured again: the host's clocks drift from it while the process runs. */
const MEASURE_EVERY_MS = 60_000;
/** A host clock further than this from the database's is logged as a warning. */
const SKEW_WARNING_MS = 5_000;
/** At most one skew warning this often: measured every minute, a host off for a day would log 1,440. */
const WARN_EVERY_MS = 3_600_000;
/**
 * How much further the wall clock may have moved than the monotonic clock since the last measurement
 * before the host is taken to have slept (see `wokeUp`).
 */
const SLEPT_MS = 1_000;

/** The host's clocks, in ms; tests set them. */
export interface HostClocks {
  /** The wall clock (`Date.now`): NTP steps it, so it only tells how far the host is off. */
  wall?: () => number;
  /** A clock that only counts on (`performance.now()`): the database's time is counted on by it between measurements. */
  monotonic?: () => number;
}

/**
 * The database's time, for a process whose decisions meet times the database wrote or will compare:
 * measured at start and every minute (`SELECT now()` against the midpoint of its round trip), and
 * counted on between measurements by the host's monotonic clock, never its wall clock, which NTP
 * may step by minutes at any moment. Leases are written by the database's clock (`now()` in the
 * claims of the gateway, the channel worker and the fallback), and the scheduler decides when they
 * ran out: by its own clock, a host 90 s ahead took a browser send's 80-s lease for run out at its
 * next poll, failed it and released its push fallback while the browser's acknowledgement was on its
 * way. The message center plans the escalation times the scheduler releases by: by its own clock, a
 * host 40 s behind stored a 30-s escalation already due, and online users got the push with the
 * browser's message.
 */
export class DatabaseClock implements OnApplicationShutdown {
  private readonly wall: () => number;
  private readonly monotonic: () => number;
  /** The database's time at the last measurement, and the monotonic and wall clocks' then. */
  private databaseAt: number;
  private monotonicAt: number;
  private wallAt: number;
  private warnedAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private measuring: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly logger: AppLogger,
    clocks: HostClocks = {},
  ) {
    this.wall = clocks.wall ?? Date.now;
    this.monotonic = clocks.monotonic ?? (() => performance.now());
    // The host's time until the first measurement.
    this.databaseAt = this.wall();
    this.monotonicAt = this.monotonic();
    this.wallAt = this.databaseAt;
  }

  /** The database's time now. */
  readonly now = (): Date => {
    const [monotonic, wall] = [this.monotonic(), this.wall()];
    const slept = wall - this.wallAt - (monotonic - this.monotonicAt);
    if (slept > SLEPT_MS) this.wokeUp(slept, monotonic, wall);
    return new Date(this.databaseAt + monotonic - this.monotonicAt);
  };

  /**
   * The monotonic clock does not run while the host is suspended (a laptop's lid closed, a VM
   * paused): woken after an hour, the clock was an hour behind until its next measurement, up to a
   * minute in which the message center stored escalations already due and expired short-lived
   * messages at once. The wall clock ran on meanwhile, so the time goes by the time it slept, and the
   * database is asked again at once. A wall clock stepped forward (NTP) looks the same: it is
   * followed for the one round trip of that measurement.
   */
  private wokeUp(slept: number, monotonic: number, wall: number): void {
    this.databaseAt += monotonic - this.monotonicAt + slept;
    this.monotonicAt = monotonic;
    this.wallAt = wall;
    if (this.stopped) return;
    this.measuring = this.measuring
      .then(() => this.measure())
      .catch((err: unknown) => this.logger.warn({ err }, "could not read the database's clock after the host slept; its time is counted on from the host's wall clock"));
  }

  /** The first measurement, then one every minute until the shutdown; throws when the database could not be read. */
  async start(): Promise<void> {
    await this.measure();
    this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.measuring;
  }

  /** Measures the database's time again (every minute by its own timer); throws when the database could not be read, the last measurement kept. */
  async measure(): Promise<void> {
    // A connection of its own first: a wait for one of the pool's would count in the round trip.
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.connect();
      const [sentAt, wallSentAt] = [this.monotonic(), this.wall()];
      // now() is the start of the statement's own transaction: the time the query came.
      const [row] = (await runner.query(`SELECT now() AS "databaseNow"`)) as { databaseNow: Date }[];
      const [answeredAt, wallAnsweredAt] = [this.monotonic(), this.wall()];
      this.databaseAt = row!.databaseNow.getTime();
      this.monotonicAt = (sentAt + answeredAt) / 2;
      this.wallAt = (wallSentAt + wallAnsweredAt) / 2;
    } finally {
      await runner.release();
    }
    this.warnIfSkewed();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.measuring = this.measure()
        .catch((err: unknown) => this.logger.warn({ err }, "could not read the database's clock; its time is counted on from the measurement before"))
        .finally(() => {
          if (!this.stopped) this.schedule();
        });
    }, MEASURE_EVERY_MS);
    // The timer alone does not keep the process alive.
    this.timer.unref();
  }

  private warnIfSkewed(): void {
    const skewMs = Math.round(this.wall() - this.now().getTime());
    if (Math.abs(skewMs) <= SKEW_WARNING_MS) return;
    const at = this.monotonic();
    if (this.warnedAt !== undefined && at - this.warnedAt < WARN_EVERY_MS) return;
    this.warnedAt = at;
    this.logger.warn(
      { skewMs },
      "this host's clock is off from the database's (skewMs: host minus database); this process goes by the database's, as leases and escalations do; set the host's clock right (NTP)",
    );
  }
}

/**
 * Provides `token` as the clock given (tests move it), or else as the database's time: a
 * `DatabaseClock` measured before any `onModuleInit` runs (Nest runs those of a module together:
 * the message center's partition maintenance read the clock before the measurement had come), and a
 * process that cannot read it does not start.
 */
export function databaseClockProviders(token: InjectionToken, given: (() => Date) | undefined): Provider[] {
  if (given) return [{ provide: token, useValue: given }];
  return [
    {
      provide: DatabaseClock,
      inject: [DataSource, APP_LOGGER],
      useFactory: async (dataSource: DataSource, logger: AppLogger) => {
        const clock = new DatabaseClock(dataSource, logger);
        await clock.start();
        return clock;
      },
    },
    { provide: token, useFactory: (databaseClock: DatabaseClock) => databaseClock.now, inject: [DatabaseClock] },
  ];
}
