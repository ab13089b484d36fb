import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type Pool } from 'pg';
import { DataSource, type QueryRunner } from 'typeorm';
import { createLogger, type AppLogger } from '@notify/observability';
import { DDL_LOCK_TIMEOUT_MS, lockNotAvailable } from './lock-waits';
import { missingMigrations } from './schema-version';
import { withSessionSettings } from './session-settings';
import { queryRows } from './stores/rows';
import { DeliveryEntity } from './entities/delivery.entity';
import { InboxEntryEntity, InboxReadSequenceEntity, InboxSequenceEntity } from './entities/inbox.entity';
import { MessageEntity, RequestKeyEntity } from './entities/message.entity';
import { DeviceEntity, PushTokenEntity, RecipientEntity, TopicSubscriptionEntity } from './entities/recipient.entity';
import { InitialSchema1763600000000 } from './migrations/1763600000000-initial-schema';
import { Recipients1763600000001 } from './migrations/1763600000001-recipients';
import { ApiKeys1763600000010 } from './migrations/1763600000010-api-keys';
import { DeliveryStats1763600000011 } from './migrations/1763600000011-delivery-stats';
import { QueryApiRole1763600000012 } from './migrations/1763600000012-query-api-role';
import { DeliveryStatsSlots1763600000013 } from './migrations/1763600000013-delivery-stats-slots';
import { LeasedDeliveries1763600000014 } from './migrations/1763600000014-leased-deliveries';
import { JsonRows1763600000015 } from './migrations/1763600000015-json-rows';
import { DeliveryStatsRetries1763600000016 } from './migrations/1763600000016-delivery-stats-retries';
import { DeliveryTargetPerUser1763600000017 } from './migrations/1763600000017-delivery-target-per-user';
import { DailyStatsByDay1763600000018 } from './migrations/1763600000018-daily-stats-by-day';
import { GivenBackRetries1763600000019 } from './migrations/1763600000019-given-back-retries';
import { PendingByReceiver1763600000020 } from './migrations/1763600000020-pending-by-receiver';
import { DeviceRegistrationTime1763600000021 } from './migrations/1763600000021-device-registration-time';
import { FailedAwaitingSchedule1763600000022 } from './migrations/1763600000022-failed-awaiting-schedule';
import { InboxReadSequence1763600000023 } from './migrations/1763600000023-inbox-read-sequence';
import { EventOutbox1763600000024 } from './migrations/1763600000024-event-outbox';
import { ReceiptKeys1763600000025 } from './migrations/1763600000025-receipt-keys';
import { HeldDue1763600000026 } from './migrations/1763600000026-held-due';
import { InactiveDevices1763600000027 } from './migrations/1763600000027-inactive-devices';
import { MigrationsReadable1763600000028 } from './migrations/1763600000028-migrations-readable';
import { UnfinishedRequests1763600000029 } from './migrations/1763600000029-unfinished-requests';
import { RemovedUsers1763600000030 } from './migrations/1763600000030-removed-users';
import { ApiKeyEntity } from './entities/api-key.entity';
import { DailyDeliveryStatsEntity, RequestDeliveryStatsEntity } from './entities/delivery-stats.entity';
import { SocketIoAttachments1763600000002 } from './migrations/1763600000002-socket-io-attachments';

export const ENTITIES = [
  RequestKeyEntity,
  MessageEntity,
  DeliveryEntity,
  InboxSequenceEntity,
  InboxReadSequenceEntity,
  InboxEntryEntity,
  RecipientEntity,
  DeviceEntity,
  PushTokenEntity,
  TopicSubscriptionEntity,
  ApiKeyEntity,
  DailyDeliveryStatsEntity,
  RequestDeliveryStatsEntity,
];
export const MIGRATIONS = [InitialSchema1763600000000, Recipients1763600000001, SocketIoAttachments1763600000002, ApiKeys1763600000010, DeliveryStats1763600000011, QueryApiRole1763600000012, DeliveryStatsSlots1763600000013, LeasedDeliveries1763600000014, JsonRows1763600000015, DeliveryStatsRetries1763600000016, DeliveryTargetPerUser1763600000017, DailyStatsByDay1763600000018, GivenBackRetries1763600000019, PendingByReceiver1763600000020, DeviceRegistrationTime1763600000021, FailedAwaitingSchedule1763600000022, InboxReadSequence1763600000023, EventOutbox1763600000024, ReceiptKeys1763600000025, HeldDue1763600000026, InactiveDevices1763600000027, MigrationsReadable1763600000028, UnfinishedRequests1763600000029, RemovedUsers1763600000030];

export interface DatabaseSettings {
  databaseUrl: string;
  databasePoolSize?: number;
  applicationName?: string;
  /**
   * Open every connection of the pool at start and keep them: for an app answering calls, whose first
   * calls after a start or a quiet spell would otherwise wait for new connections (about 10 ms each,
   * measured by `npm run bench:query`).
   */
  keepPoolOpen?: boolean;
  /** How long a query may wait for a pooled connection before it fails (unset: for ever). */
  poolWaitMs?: number;
  /**
   * How long a query may wait for the server's answer before it fails with pg's "Query read timeout"
   * and its connection is closed (unset: for ever; see `ClosedOnReadTimeout`). Above the session's
   * statement_timeout, which the server enforces, so that this is only for a server that no longer
   * answers at all (its host lost, a network partition).
   */
  queryTimeoutMs?: number;
}

/**
 * Every app's session: PostgreSQL ends one that sits in a transaction, waiting for its client, this
 * long. An app's transactions wait for nothing but their own statements; a client that vanished in
 * the middle of one (its host lost, its process frozen) held its row locks until the server's TCP
 * keepalive noticed, about two hours with the defaults, and every transaction that needed those rows
 * (the scheduler's release of due tiers, a user's inbox numbers) waited as long.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 300_000;

/**
 * Every app's session is in UTC, whatever the server's or the database's default: times PostgreSQL
 * writes as text (inside `json_build_object`, say) carry the session's offset, and a zone's offsets
 * before its standard time (New York's -04:56:02 in 1800) are ones `Date` cannot read.
 */
const SESSION_TIME_ZONE = 'UTC';

/** The schema comes from the migrations only: `synchronize` is off, in tests too. */
export function createDataSource(settings: DatabaseSettings): DataSource {
  return new DataSource({
    type: 'postgres',
    url: withSessionSettings(settings.databaseUrl, {
      idle_in_transaction_session_timeout: String(IDLE_IN_TRANSACTION_TIMEOUT_MS),
      TimeZone: SESSION_TIME_ZONE,
    }),
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'schema_migrations',
    uuidExtension: 'pgcrypto',
    applicationName: settings.applicationName ?? 'notify',
    extra: {
      max: poolSize(settings),
      ...(settings.keepPoolOpen ? { min: poolSize(settings), idleTimeoutMillis: 0 } : {}),
      ...(settings.poolWaitMs ? { connectionTimeoutMillis: settings.poolWaitMs } : {}),
      ...(settings.queryTimeoutMs ? { query_timeout: settings.queryTimeoutMs, Client: ClosedOnReadTimeout } : {}),
      // A server that vanished without closing its connections (a failover, a host lost) is noticed by
      // TCP keepalive probes; without them a query waiting on it would wait for ever. The consumers
      // give up on a batch stuck longer than that (`BatchConsumer`'s maxBatchMs).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    },
  });
}

/** pg's error for a query that went unanswered for `query_timeout`. */
const QUERY_READ_TIMEOUT = 'Query read timeout';
const pgQuery = Client.prototype.query as (this: Client, ...args: unknown[]) => unknown;

/**
 * A pooled connection that closes once a query of it went unanswered for `query_timeout`. pg fails
 * the query but keeps the connection, and every later query of it waits behind the one never
 * answered; TypeORM gives a connection back to the pool without its query's error, and pg-pool
 * discards only a connection given back with an error or closed: after a failover that left the old
 * server's connections open, each call failed one read timeout after the other, on the same dead
 * connections, until TCP keepalive ended them (about 11 minutes).
 */
class ClosedOnReadTimeout extends Client {
  // One signature for all of pg's: only the promise form's (TypeORM's) is watched. pg-pool's own
  // `pool.query`, the callback form, gives its connection back with the error already.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: unknown[]): any {
    const result = pgQuery.apply(this, args);
    if (result instanceof Promise) {
      result.catch((error: unknown) => {
        // Closed at once, before the connection is given back: an end() with a query in flight destroys the socket.
        if (error instanceof Error && error.message === QUERY_READ_TIMEOUT) void this.end().catch(() => undefined);
      });
    }
    return result;
  }
}

function poolSize(settings: DatabaseSettings): number {
  return settings.databasePoolSize ?? 10;
}

/** The pg pool under an initialized DataSource, for what TypeORM's query runner cannot do. */
export function poolOf(dataSource: DataSource): Pool {
  return (dataSource.driver as unknown as { master: Pool }).master;
}

/** The connections `openPool` could not open, and the first refusal's message. */
export interface PoolShortfall {
  missing: number;
  wanted: number;
  reason: string;
}

/**
 * Opens the connections of an initialized DataSource's pool (see `keepPoolOpen`), as many as the server
 * gives. A refusal (PostgreSQL's `max_connections` reached by every app's pools together) does not stop
 * the app: its pool opens the connection later, when a call needs it. Before, one refusal failed the
 * start, and an app restarted by its supervisor took connections from the others at every try.
 */
export async function openPool(dataSource: DataSource, settings: DatabaseSettings): Promise<PoolShortfall | undefined> {
  const pool = poolOf(dataSource);
  const wanted = poolSize(settings);
  const tries = await Promise.allSettled(Array.from({ length: wanted }, () => pool.connect()));
  const refused: unknown[] = [];
  for (const attempt of tries) {
    if (attempt.status === 'fulfilled') attempt.value.release();
    else refused.push(attempt.reason);
  }
  if (refused.length === 0) return undefined;
  const first = refused[0];
  return { missing: refused.length, wanted, reason: first instanceof Error ? first.message : String(first) };
}

/** How a migration run waits for the locks of its migrations (each setting has a default). */
export interface MigrationRunOptions {
  /** Where a try that waited too long for a lock is reported; a `migrate` logger by default. */
  logger?: AppLogger;
  /** How long each statement of a migration waits for a lock before its try ends. */
  lockTimeoutMs?: number;
  /** The pause between such a try and the next. */
  retryPauseMs?: number;
  /** How long the run may last by the clock, its work as well as its waits and pauses, before it gives up. */
  giveUpAfterMs?: number;
}

/** The pause after a try whose lock did not come: the platform's statements go through meanwhile. */
const MIGRATION_RETRY_PAUSE_MS = 15_000;
/** How long a run goes on trying before it gives up and says what held it. */
const MIGRATION_GIVE_UP_MS = 600_000;

/**
 * Applies every pending migration, each in a transaction of its own, and returns their names. The
 * apps of the version before may still be writing: one transaction for all of them held the locks
 * of each migration until the last committed, and a migration waiting for a table the writers held
 * while the writers waited for a table an earlier migration held was a deadlock, the whole upgrade
 * rolled back, and again at each try while requests kept coming.
 *
 * One run at a time per database, under an advisory lock held by a connection of its own: TypeORM
 * reads the pending migrations once and takes no lock, so two runs started together (two init
 * containers, `npm run migrate` beside `npm start`) both applied the same migration — the second
 * failing on a table that exists, or, for a migration that upserts counters, adding them twice. A
 * run that waited finds nothing left to apply.
 *
 * Every statement waits at most `lockTimeoutMs` for a lock (see `applyPending`).
 */
export async function runMigrations(settings: DatabaseSettings, options: MigrationRunOptions = {}): Promise<string[]> {
  const lockTimeoutMs = options.lockTimeoutMs ?? DDL_LOCK_TIMEOUT_MS;
  const dataSource = createDataSource({
    ...settings,
    databaseUrl: withSessionSettings(settings.databaseUrl, { lock_timeout: String(lockTimeoutMs) }),
    databasePoolSize: 2,
  });
  await dataSource.initialize();
  const lock = dataSource.createQueryRunner();
  try {
    await lock.connect();
    await requireUtf8(lock);
    // Asked again and again rather than waited for in one statement: a statement waiting holds a
    // snapshot, and an index built CONCURRENTLY by the run holding the lock waits for every snapshot
    // older than it to end; neither run would ever end.
    while (!(await lock.query('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATIONS_LOCK]))[0].locked) {
      await sleep(MIGRATIONS_LOCK_POLL_MS);
    }
    const pending = await missingMigrations(dataSource);
    await applyPending(dataSource, {
      lockTimeoutMs,
      logger: options.logger ?? createLogger('migrate', 'warn'),
      retryPauseMs: options.retryPauseMs ?? MIGRATION_RETRY_PAUSE_MS,
      giveUpAfterMs: options.giveUpAfterMs ?? MIGRATION_GIVE_UP_MS,
    });
    return pending;
  } finally {
    // Released with its session too, should the unlock not get through.
    await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATIONS_LOCK]).catch(() => undefined);
    await lock.release();
    await dataSource.destroy();
  }
}

/**
 * Runs the pending migrations, and again after a pause when one of them waited `lockTimeoutMs` for a
 * lock: what the try committed stays (each migration commits on its own), and the next takes up from
 * the migration that waited. A migration built `CONCURRENTLY` waits too, for the transactions older
 * than its build: such a wait holds up no other statement, but a run that waited on it would last as
 * long as the oldest transaction does (a pg_dump's hours), with nothing said; so it times out as well,
 * and the next try drops the invalid index the build left and builds it again (migrations 26 and 27).
 * Gives up once the run would last more than `giveUpAfterMs` by the clock, its work included: a build
 * redone at each try (a partition scanned twice, then stopped by its last wait) counts too, where a sum
 * of the waits and pauses alone let a backup window go by in rebuilds.
 */
async function applyPending(dataSource: DataSource, options: Required<MigrationRunOptions>): Promise<void> {
  const startedAt = Date.now();
  for (;;) {
    try {
      await dataSource.runMigrations({ transaction: 'each' });
      return;
    } catch (error) {
      if (!lockNotAvailable(error)) throw error;
      const [migration = 'unknown'] = await missingMigrations(dataSource);
      const holders = await transactionsOlderThan(dataSource, options.lockTimeoutMs);
      const runMs = Date.now() - startedAt;
      if (runMs + options.retryPauseMs > options.giveUpAfterMs) throw new MigrationLockTimeout(migration, options.lockTimeoutMs, runMs, holders);
      options.logger.warn(
        { migration, lockTimeoutMs: options.lockTimeoutMs, retryInMs: options.retryPauseMs, holders },
        'a migration waited longer than lockTimeoutMs for a lock and was stopped, so that the statements queued behind it could go on; trying it again after a pause',
      );
      await sleep(options.retryPauseMs);
    }
  }
}

/** A migration run gave up: one of its migrations could not have its locks in the time allowed. */
export class MigrationLockTimeout extends Error {
  readonly code = 'migration_lock_timeout';

  constructor(
    readonly migration: string,
    lockTimeoutMs: number,
    runMs: number,
    readonly holders: readonly OpenTransaction[],
  ) {
    super(
      `migration ${migration} could not have its locks: each try waited ${lockTimeoutMs} ms for them, and the run gave up after ${Math.round(runMs / 1000)} s. ` +
        `Transactions open longer than a try's wait, what it waited for among them: ${holders.map(describeSession).join('; ') || 'none this role may see'}. ` +
        'Run the migrations again once they have ended.',
    );
    this.name = 'MigrationLockTimeout';
  }
}

/** A session of the database, as a report of what held a migration names it: never its query, which may hold personal data. */
export interface OpenTransaction {
  pid: number;
  applicationName: string;
  state: string | null;
  transactionStart: Date;
}

/**
 * The other sessions of the database whose transaction has been open longer than `ms`. A lock that
 * a statement waited `ms` for is held by one of them: a transaction asking for it after the wait
 * began would have queued behind it. (Sessions of other roles show only to a superuser or a member
 * of pg_read_all_stats.)
 */
function transactionsOlderThan(dataSource: DataSource, ms: number): Promise<OpenTransaction[]> {
  return queryRows<OpenTransaction>(
    dataSource,
    `SELECT pid, application_name AS "applicationName", state, xact_start AS "transactionStart"
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start < now() - $1 * interval '1 millisecond'
      ORDER BY xact_start`,
    [ms],
  );
}

function describeSession(session: OpenTransaction): string {
  return `pid ${session.pid} (${session.applicationName || 'no application name'}, ${session.state ?? 'state unknown'}, since ${session.transactionStart.toISOString()})`;
}

/**
 * The platform stores text in any script, and its column lengths count characters: a database in
 * another encoding refuses Chinese text (LATIN1) or counts bytes (SQL_ASCII, what initdb picks where
 * no locale is set), and every request it refuses would go to the dead-letter topic.
 */
async function requireUtf8(session: QueryRunner): Promise<void> {
  const [{ server_encoding: encoding }] = (await session.query('SHOW server_encoding')) as { server_encoding: string }[];
  if (encoding !== 'UTF8') {
    throw new Error(`the database's encoding is ${encoding}, and the platform needs UTF8: create it with ENCODING 'UTF8' TEMPLATE template0`);
  }
}

/** The advisory lock key of a migration run (any number no other lock of this database uses). */
const MIGRATIONS_LOCK = '7020913504111305217';
/** How often a migration run asks for the lock another run holds. */
const MIGRATIONS_LOCK_POLL_MS = 250;
