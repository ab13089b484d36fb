import { Writable } from 'node:stream';
import type { DataSource } from 'typeorm';
import { createLogger, type AppLogger } from '@notify/observability';
import { createTestDatabase, eventually, type TestDatabase } from '@notify/testing';
import { createDataSource, runMigrations } from './data-source';
import { DatabaseClock } from './database-clock';
import { newId } from './ids';
import { DeliveryOutcomeStore } from './stores/delivery-outcome.store';
import { ResendStore } from './stores/resend.store';

/** A scheduler host whose clock runs this far ahead of the database's (broken NTP). */
const AHEAD_MS = 90_000;
/** The browser send's lease: twice a 10-s acknowledgement timeout and a minute's grace (architecture D16). */
const BROWSER_LEASE_MS = 80_000;

describe('DatabaseClock', () => {
  let database: TestDatabase;
  let dataSource: DataSource;

  beforeAll(async () => {
    database = await createTestDatabase(process.env.TEST_DATABASE_ADMIN_URL, (url) => runMigrations({ databaseUrl: url }));
    dataSource = await createDataSource({ databaseUrl: database.url, databasePoolSize: 2 }).initialize();
  });
  afterAll(async () => {
    await dataSource.destroy();
    await database.drop();
  });

  /** A logger that keeps its warnings, as parsed JSON lines. */
  function keptWarnings(): { logger: AppLogger; warnings: Record<string, unknown>[] } {
    const warnings: Record<string, unknown>[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        warnings.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    return { logger: createLogger('database-clock-spec', 'warn', destination), warnings };
  }

  /** A clock on a host running `AHEAD_MS` ahead, measured as an app's start measures it. */
  async function startedAhead(logger = keptWarnings().logger): Promise<DatabaseClock> {
    const clock = new DatabaseClock(dataSource, logger, { wall: () => Date.now() + AHEAD_MS });
    await clock.start();
    return clock;
  }

  const databaseNow = async () => (await dataSource.query<{ now: Date }[]>(`SELECT now() AS now`))[0]!.now;

  it('tells the database’s time on a host whose clock runs ahead, and warns of the skew once', async () => {
    const { logger, warnings } = keptWarnings();
    const clock = await startedAhead(logger);
    try {
      const before = await databaseNow();
      const told = clock.now();
      const after = await databaseNow();
      expect(told.getTime()).toBeGreaterThan(before.getTime() - 1_000);
      expect(told.getTime()).toBeLessThan(after.getTime() + 1_000);

      await clock.measure();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.skewMs).toBeGreaterThan(AHEAD_MS - 5_000);
      expect(warnings[0]!.skewMs).toBeLessThan(AHEAD_MS + 5_000);
    } finally {
      await clock.onApplicationShutdown();
    }
  });

  it('counts on by the monotonic clock when NTP steps the host’s wall clock back, and tells of the step at its next measurement', async () => {
    const { logger, warnings } = keptWarnings();
    let wallStepMs = 0;
    let monotonicMs = 1_000;
    const clock = new DatabaseClock(dataSource, logger, { wall: () => Date.now() + wallStepMs, monotonic: () => monotonicMs });
    await clock.measure();
    const measured = clock.now().getTime();

    wallStepMs = -120_000;
    monotonicMs += 5_000;

    expect(clock.now().getTime() - measured).toBe(5_000);
    expect(warnings).toEqual([]);
    await clock.measure();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.skewMs).toBeLessThan(-120_000 + 5_000);
    expect(warnings[0]!.skewMs).toBeGreaterThan(-120_000 - 5_000);
  });

  it('goes by the time a host slept, whose monotonic clock stood still, and asks the database again at once', async () => {
    const { logger, warnings } = keptWarnings();
    let wallMovedMs = 0;
    const monotonicMs = 1_000;
    const clock = new DatabaseClock(dataSource, logger, { wall: () => Date.now() + wallMovedMs, monotonic: () => monotonicMs });
    await clock.measure();
    const measured = clock.now().getTime();

    // Ten minutes suspended: the wall clock ran on, the monotonic one did not.
    wallMovedMs = 600_000;

    expect(clock.now().getTime() - measured).toBeGreaterThanOrEqual(600_000);
    expect(clock.now().getTime() - measured).toBeLessThan(600_000 + 5_000);
    // The measurement it started brings it back to the database's time, and tells of the host's clock.
    await eventually(
      async () => Math.abs(clock.now().getTime() - (await databaseNow()).getTime()),
      (off) => off < 2_000,
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.skewMs).toBeGreaterThan(600_000 - 5_000);
    await clock.onApplicationShutdown();
  });

  it('keeps the time it measured when the database cannot be read', async () => {
    const gone = await createDataSource({ databaseUrl: database.url, databasePoolSize: 1 }).initialize();
    const clock = new DatabaseClock(gone, keptWarnings().logger, { wall: () => Date.now() + AHEAD_MS });
    await clock.start();
    await gone.destroy();
    try {
      await expect(clock.measure()).rejects.toThrow();
      expect(Math.abs(clock.now().getTime() - (await databaseNow()).getTime())).toBeLessThan(2_000);
    } finally {
      await clock.onApplicationShutdown();
    }
  });

  it('leaves a browser send under its lease while the scheduler host runs 90 s ahead; the host’s own clock failed it', async () => {
    const createdAt = new Date();
    const messageId = newId(createdAt);
    const deliveryId = newId(createdAt);
    await dataSource.query(`INSERT INTO messages (id, request_id, type, recipient, contents, created_at) VALUES ($1, $2, 't', '{}', '{"en":{"title":"t","body":"b"}}', $3)`, [
      messageId,
      `r-${messageId}`,
      createdAt,
    ]);
    await dataSource.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, attempts, created_at, seq) VALUES ($1, $2, 'u-1', 'websocket', 'inbox:u-1', 'en', 'queued', 0, $3, 1)`,
      [deliveryId, messageId, createdAt],
    );
    const statusOf = async () => (await dataSource.query<{ status: string }[]>(`SELECT status FROM deliveries WHERE id = $1`, [deliveryId]))[0]!.status;
    // The gateway's claim: its lease is written by the database's clock.
    expect(await new DeliveryOutcomeStore(dataSource).claimAttempts([deliveryId], BROWSER_LEASE_MS)).toEqual(new Map([[deliveryId, 1]]));
    const resend = new ResendStore(dataSource);
    const clock = await startedAhead();

    try {
      // The resend poller's first step, by the scheduler's clock.
      expect(await resend.failUnanswered(clock.now(), 100)).toEqual([]);
      expect(await statusOf()).toBe('sent');
    } finally {
      await clock.onApplicationShutdown();
    }

    // By the host's clock, the lease had run out: the send was failed while its acknowledgement was on its way.
    const hostClock = () => new Date(Date.now() + AHEAD_MS);
    expect((await resend.failUnanswered(hostClock(), 100)).map((e) => [e.deliveryId, e.error])).toEqual([[deliveryId, 'ack_timeout']]);
    expect(await statusOf()).toBe('failed');
  });
});
