import { Client } from 'pg';
import { createLogger } from '@notify/observability';
import { eventually, type TestDatabase } from '@notify/testing';
import { MIGRATIONS, MigrationLockTimeout, runMigrations, type MigrationRunOptions } from '../data-source';
import { newId } from '../ids';
import { databaseBefore } from '../migrated-database.spec-helper';
import { EventOutbox1763600000024 } from './1763600000024-event-outbox';
import { ReceiptKeys1763600000025 } from './1763600000025-receipt-keys';
import { HeldDue1763600000026 } from './1763600000026-held-due';

const AT = new Date('2031-08-01T10:00:00Z');
/** The reader a migration waits behind, as a pg_dump or a psql session left open would be. */
const READER = 'nightly-dump';
/** Short waits, so that a test's tries come quickly. */
const QUICK: MigrationRunOptions = { lockTimeoutMs: 200, retryPauseMs: 100 };

interface Warning {
  migration?: string;
  holders?: { applicationName: string }[];
}

/** A logger for a run, and the warnings it logged, parsed. */
function warnings() {
  const lines: Warning[] = [];
  return { logger: createLogger('migrate-spec', 'warn', { write: (line: string) => void lines.push(JSON.parse(line) as Warning) }), lines };
}

const names = (from: (typeof MIGRATIONS)[number]) => MIGRATIONS.slice(MIGRATIONS.indexOf(from)).map((migration) => migration.name);

/**
 * An upgrade while a long transaction is open: a migration that waited for its lock as long as the
 * transaction ran had every statement on its table queue behind it, and the platform stood still.
 */
describe('migrations waiting for a lock', () => {
  const clients: Client[] = [];
  const connect = async (url: string, options: { application_name?: string; statement_timeout?: number } = {}) => {
    const client = new Client({ connectionString: url, ...options });
    await client.connect();
    clients.push(client);
    return client;
  };
  const databases: TestDatabase[] = [];
  const before = async (migration: (typeof MIGRATIONS)[number]) => {
    const database = await databaseBefore(migration);
    databases.push(database);
    return database;
  };
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.end();
    for (const database of databases.splice(0)) await database.drop();
  });

  it('let the writes to their table go on meanwhile, say who holds it, and finish once it is free', async () => {
    const database = await before(ReceiptKeys1763600000025);
    const reader = await connect(database.url, { application_name: READER });
    const observer = await connect(database.url);
    // Bounded, so that a write queued for good behind the migration fails the test instead of hanging it.
    const writer = await connect(database.url, { statement_timeout: 20_000 });
    await reader.query('BEGIN');
    await reader.query('SELECT 1 FROM deliveries LIMIT 1');

    const { logger, lines } = warnings();
    const migrating = runMigrations({ databaseUrl: database.url }, { ...QUICK, logger });
    migrating.catch(() => undefined);
    // The migration's ALTER TABLE deliveries waits for the reader.
    const waitingForLocks = async () =>
      Number((await observer.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n);
    await eventually(waitingForLocks, (n) => n > 0, { intervalMs: 10 });

    const [messageId, deliveryId] = [newId(AT), newId(AT)];
    await writer.query(
      `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, created_at) VALUES ($1, $2, 'u', 'websocket', 'inbox:u', 'en', 'queued', $3)`,
      [deliveryId, messageId, AT],
    );
    await eventually(async () => lines.length, (n) => n > 0);
    expect(lines[0]).toMatchObject({ migration: ReceiptKeys1763600000025.name, holders: expect.arrayContaining([expect.objectContaining({ applicationName: READER })]) });

    await reader.query('COMMIT');
    expect(await migrating).toEqual(names(ReceiptKeys1763600000025));
    expect((await observer.query(`SELECT receipt_key FROM deliveries WHERE id = $1`, [deliveryId])).rows).toEqual([{ receipt_key: null }]);
  });

  it('give up after the time allowed, naming the migration and the transaction it waited for, and keep the migrations before it', async () => {
    const database = await before(EventOutbox1763600000024);
    const reader = await connect(database.url, { application_name: READER });
    await reader.query('BEGIN');
    await reader.query('SELECT 1 FROM deliveries LIMIT 1');

    const run = runMigrations({ databaseUrl: database.url }, { ...QUICK, giveUpAfterMs: 0, logger: warnings().logger });
    await expect(run).rejects.toThrow(MigrationLockTimeout);
    await expect(run).rejects.toThrow(new RegExp(`^migration ${ReceiptKeys1763600000025.name} could not have its locks.*pid \\d+ \\(${READER}, idle in transaction`));

    await reader.query('COMMIT');
    const applied = (await reader.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((row) => row.name);
    expect(applied).toContain(EventOutbox1763600000024.name);
    expect(applied).not.toContain(ReceiptKeys1763600000025.name);
  });

  it('build an index CONCURRENTLY again when its build timed out waiting for an older transaction (migration 26, partition by partition)', async () => {
    const database = await before(HeldDue1763600000026);
    const reader = await connect(database.url, { application_name: READER });
    const observer = await connect(database.url);
    // A snapshot held: the build waits for it to end before its index may be used.
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await reader.query('SELECT 1 FROM messages LIMIT 1');

    const { logger, lines } = warnings();
    const migrating = runMigrations({ databaseUrl: database.url }, { ...QUICK, logger });
    migrating.catch(() => undefined);
    // The build timed out, leaving an invalid index that the next try must drop.
    await eventually(async () => lines.length, (n) => n > 0);
    expect(lines[0]).toMatchObject({ migration: HeldDue1763600000026.name });

    await reader.query('COMMIT');
    expect(await migrating).toEqual(names(HeldDue1763600000026));
    const indexes = await observer.query(`SELECT indexrelid::regclass::text AS index, indisvalid AS valid FROM pg_index WHERE indexrelid IN ('ix_deliveries_held_due'::regclass, 'ix_devices_inactive'::regclass) ORDER BY 1`);
    expect(indexes.rows).toEqual([{ index: 'ix_deliveries_held_due', valid: true }, { index: 'ix_devices_inactive', valid: true }]);
  });
});
