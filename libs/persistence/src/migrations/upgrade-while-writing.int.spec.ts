import { Client } from 'pg';
import { eventually, type TestDatabase } from '@notify/testing';
import { MIGRATIONS, runMigrations } from '../data-source';
import { newId } from '../ids';
import { databaseBefore } from '../migrated-database.spec-helper';
import { DeliveryTargetPerUser1763600000017 } from './1763600000017-delivery-target-per-user';

const AT = new Date('2031-08-01T10:00:00Z');

/**
 * An upgrade while the old message center goes on storing requests: its transaction writes the
 * request key and the message (and, through the counter trigger, the day's counters), then waits
 * for the deliveries table a migration holds. Run as one transaction, the migrations then waited for
 * the counters that transaction held: a deadlock, the whole upgrade rolled back, and again at every
 * try while requests kept coming.
 */
describe('migrations on an installation that is storing requests', () => {
  let database: TestDatabase;
  const index = MIGRATIONS.indexOf(DeliveryTargetPerUser1763600000017);

  beforeAll(async () => {
    database = await databaseBefore(DeliveryTargetPerUser1763600000017);
  });
  afterAll(() => database.drop());

  it('completes, and so does the transaction storing a request meanwhile', async () => {
    const writer = new Client({ connectionString: database.url });
    const observer = new Client({ connectionString: database.url });
    await writer.connect();
    await observer.connect();
    try {
      const [messageId, deliveryId] = [newId(AT), newId(AT)];
      await writer.query('BEGIN');
      // The writer's own deadlock check comes late, so the migrations' check is the one that finds a cycle.
      await writer.query(`SET LOCAL deadlock_timeout = '1min'`);
      await writer.query(`INSERT INTO request_keys (request_id, message_id, created_at) VALUES ('r-upgrade', $1, $2)`, [messageId, AT]);
      await writer.query(`INSERT INTO messages (id, request_id, type, recipient, contents, created_at) VALUES ($1, 'r-upgrade', 'upgrade.test', '{}', '{}', $2)`, [messageId, AT]);

      const migrating = runMigrations({ databaseUrl: database.url });
      migrating.catch(() => undefined);
      // The migrations come to the counters the writer holds, and wait for it.
      const migrationsWaiting = async () =>
        Number((await observer.query(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n);
      await eventually(migrationsWaiting, (n) => n > 0);
      await writer.query(
        `INSERT INTO deliveries (id, message_id, user_id, channel, endpoint, locale, status, created_at) VALUES ($1, $2, 'u', 'websocket', 'inbox:u', 'en', 'queued', $3)`,
        [deliveryId, messageId, AT],
      );
      await writer.query('COMMIT');

      expect(await migrating).toEqual(MIGRATIONS.slice(index).map((migration) => migration.name));
      expect((await observer.query(`SELECT count(*)::int AS n FROM deliveries WHERE id = $1`, [deliveryId])).rows[0].n).toBe(1);
    } finally {
      await writer.end();
      await observer.end();
    }
  });
});
