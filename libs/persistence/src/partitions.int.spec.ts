import { createDataSource } from './data-source';
import { newId } from './ids';
import { migratedDatabase } from './migrated-database.spec-helper';
import { maintainPartitions } from './partitions';

/** A database of its own: retention deletes by date, which must not touch the run's shared database. */
describe('maintainPartitions', () => {
  const database = migratedDatabase();
  const db = () => database.dataSource().manager;

  async function insertMessage(createdAt: Date): Promise<string> {
    const id = newId(createdAt);
    await db().query(
      `INSERT INTO messages (id, request_id, type, recipient, created_at) VALUES ($1, $2, 't', '{}', $3)`,
      [id, `r-${id}`, createdAt],
    );
    await db().query(`INSERT INTO request_keys (request_id, message_id, created_at) VALUES ($1, $2, $3)`, [`r-${id}`, id, createdAt]);
    return id;
  }
  const partitionOf = async (id: string) => (await db().query(`SELECT tableoid::regclass::text AS p FROM messages WHERE id = $1`, [id]))[0]?.p;

  it('makes daily partitions ahead, moving rows that waited in the default partition into theirs', async () => {
    const early = await insertMessage(new Date('2030-01-11T08:00:00Z'));
    expect(await partitionOf(early)).toBe('messages_default');

    const report = await maintainPartitions(database.dataSource(), { now: new Date('2030-01-10T12:00:00Z'), daysAhead: 3, retentionDays: 30 });

    expect(report.created.filter((p) => p.startsWith('messages_p'))).toEqual([
      'messages_p20300109',
      'messages_p20300110',
      'messages_p20300111',
      'messages_p20300112',
      'messages_p20300113',
    ]);
    expect(report.created).toHaveLength(5 * 3);
    expect(await partitionOf(early)).toBe('messages_p20300111');
    expect(report.dropped).toEqual([]);
  });

  it('is idempotent', async () => {
    const again = await maintainPartitions(database.dataSource(), { now: new Date('2030-01-10T12:00:00Z'), daysAhead: 3, retentionDays: 30 });
    expect(again).toEqual({ created: [], dropped: [] });
  });

  it('drops partitions past the retention period with their rows and request ids, and keeps the rest', async () => {
    const old = await insertMessage(new Date('2030-01-09T10:00:00Z'));
    const kept = await insertMessage(new Date('2030-01-13T10:00:00Z'));
    const report = await maintainPartitions(database.dataSource(), { now: new Date('2030-01-14T12:00:00Z'), daysAhead: 1, retentionDays: 3 });

    expect(report.dropped.filter((p) => p.startsWith('messages_p'))).toEqual(['messages_p20300109', 'messages_p20300110']);
    expect(await partitionOf(old)).toBeUndefined();
    expect(await partitionOf(kept)).toBe('messages_p20300113');
    const keys = await db().query(`SELECT message_id FROM request_keys ORDER BY created_at`);
    expect(keys.map((k: { message_id: string }) => k.message_id)).not.toContain(old);
    expect(keys.map((k: { message_id: string }) => k.message_id)).toContain(kept);
  });

  it('lets two instances maintain at once without a conflict', async () => {
    const second = await createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).initialize();
    try {
      const policy = { now: new Date('2030-02-01T00:00:00Z'), daysAhead: 2, retentionDays: 60 };
      const [a, b] = await Promise.all([maintainPartitions(database.dataSource(), policy), maintainPartitions(second, policy)]);
      expect([...a.created, ...b.created].filter((p) => p === 'deliveries_p20300201')).toHaveLength(1);
    } finally {
      await second.destroy();
    }
  });
});
