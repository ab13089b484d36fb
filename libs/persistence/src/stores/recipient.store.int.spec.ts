import { DataSource, type Logger } from 'typeorm';
import { eventually } from '@notify/testing';
import { createDataSource } from '../data-source';
import { migratedDatabase } from '../migrated-database.spec-helper';
import { QUERY_API_ROLE } from '../migrations/1763600000012-query-api-role';
import { withSessionSettings } from '../session-settings';
import { PushDeviceStore } from './push-device.store';
import { RecipientStore } from './recipient.store';

/** A push token addresses one app installation: whoever registered it last is the one it reaches. */
describe('RecipientStore devices', () => {
  const database = migratedDatabase(3);
  const dataSource = () => database.dataSource();

  const register = (userId: string, deviceId: string, token: string) => ({ op: 'device' as const, userId, deviceId, provider: 'fcm' as const, token });
  /** A connection of its own to the suite's database that keeps every statement it runs. */
  const loggedDataSource = async () => {
    const seen: { sql: string; params: unknown[] }[] = [];
    const logger: Logger = {
      logQuery: (sql, params) => void seen.push({ sql, params: params ?? [] }),
      logQueryError: () => undefined,
      logQuerySlow: () => undefined,
      logSchemaBuild: () => undefined,
      logMigration: () => undefined,
      log: () => undefined,
    };
    const logged = await new DataSource({ ...createDataSource({ databaseUrl: database.url(), databasePoolSize: 1 }).options, logging: ['query'], logger }).initialize();
    return { seen, logged };
  };
  const active = async (...keys: [string, string][]) =>
    (await new PushDeviceStore(dataSource()).activeDevices(keys.map(([userId, deviceId]) => ({ userId, deviceId })))).map((d) => `${d.userId}/${d.deviceId}`).sort();

  it('takes a token away from the user who had it when another user registers it', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([register('ada', 'phone', 'token-shared')]);
    await store.apply([register('bob', 'phone', 'token-shared')]);
    expect(await active(['ada', 'phone'], ['bob', 'phone'])).toEqual(['bob/phone']);
    const [ada] = await dataSource().query(`SELECT active, deactivated_reason FROM devices WHERE user_id = 'ada'`);
    expect(ada).toEqual({ active: false, deactivated_reason: 'token registered to another device' });

    // Ada signs in again on that phone: it is hers once more.
    await store.apply([register('ada', 'phone', 'token-shared')]);
    expect(await active(['ada', 'phone'], ['bob', 'phone'])).toEqual(['ada/phone']);
  });

  it('keeps the last of two registrations of one token in a batch, and leaves other tokens alone', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([register('cy', 'tablet', 'token-other')]);
    await store.apply([register('cy', 'phone', 'token-batch'), register('di', 'phone', 'token-batch')]);
    expect(await active(['cy', 'phone'], ['di', 'phone'], ['cy', 'tablet'])).toEqual(['cy/tablet', 'di/phone'].sort());
    // Cy signs back in on that phone within one batch: the last registration is Cy's.
    await store.apply([register('cy', 'phone', 'token-batch'), register('di', 'phone', 'token-batch'), register('cy', 'phone', 'token-batch')]);
    expect(await active(['cy', 'phone'], ['di', 'phone'])).toEqual(['cy/phone']);
  });

  it('takes a token away as each registration in a batch would, also from a device the batch then removes or moves to another token', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([register('fay', 'phone', 'token-signed-out')]);
    // Gus signs in on Fay's old phone, then signs out, in one batch: the phone is not Fay's any more.
    await store.apply([register('gus', 'phone', 'token-signed-out'), { op: 'device-removed', userId: 'gus', deviceId: 'phone' }]);
    expect(await active(['fay', 'phone'], ['gus', 'phone'])).toEqual([]);

    // Hal registers a token, Ida takes it, then Ida's app gets a new one: Hal no longer holds the phone.
    await store.apply([register('hal', 'phone', 'token-moved'), register('ida', 'phone', 'token-moved'), register('ida', 'phone', 'token-new')]);
    expect(await active(['hal', 'phone'], ['ida', 'phone'])).toEqual(['ida/phone']);
  });

  it('registers a batch of more tokens than the database has room to lock one by one', async () => {
    const [settings] = (await dataSource().query(
      `SELECT current_setting('max_locks_per_transaction')::int AS locks, current_setting('max_connections')::int AS connections`,
    )) as { locks: number; connections: number }[];
    // More than the shared lock table holds: locks × (connections + a few dozen workers), and PostgreSQL
    // lends it about as much again of its spare shared memory (14,000 one-by-one locks failed here).
    const count = 3 * settings!.locks * (settings!.connections + 50);
    const updates = Array.from({ length: count }, (_, i) => register(`re-${i}`, 'phone', `token-release-${i}`));
    await new RecipientStore(dataSource()).apply(updates);
    const [stored] = (await dataSource().query(`SELECT count(*)::int AS n FROM devices WHERE active AND token LIKE 'token-release-%'`)) as { n: number }[];
    expect(stored!.n).toBe(count);
  });

  it('registers a token only while no other transaction is registering it', async () => {
    // Two registrations of one token at once would each miss the other's uncommitted row and both stay active.
    const other = dataSource().createQueryRunner();
    await other.connect();
    await other.startTransaction();
    try {
      // The lock the token's registration takes: one of 256, picked by the token's hash.
      await other.query(`SELECT pg_advisory_xact_lock(7361002, hashtext('fcm:token-race') & 255)`);
      let done = false;
      const registering = new RecipientStore(dataSource()).apply([register('eve', 'phone', 'token-race')]).then(() => (done = true));
      const waiting = async () =>
        Number(
          (
            await dataSource().query(
              `SELECT count(*) AS n FROM pg_locks
                WHERE locktype = 'advisory' AND NOT granted AND classid = 7361002
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
            )
          )[0].n,
        );
      await eventually(waiting, (n) => n === 1);
      expect(done).toBe(false);
      await other.commitTransaction();
      await registering;
      expect(await active(['eve', 'phone'])).toEqual(['eve/phone']);
    } finally {
      await other.release();
    }
  });

  it('gives a token to its newest registration, whatever order the registrations are applied in', async () => {
    const store = new RecipientStore(dataSource());
    const [t0, t1, t2] = [new Date('2030-05-01T10:00:00Z'), new Date('2030-05-01T10:05:00Z'), new Date('2030-05-01T10:10:00Z')];
    await store.apply([register('jo', 'phone', 'token-replayed')], [t0]);
    await store.apply([register('kai', 'phone', 'token-replayed')], [t1]);
    // Jo's registration again, applied late (its batch replayed after a crash): the phone stays Kai's.
    await store.apply([register('jo', 'phone', 'token-replayed')], [t0]);
    expect(await active(['jo', 'phone'], ['kai', 'phone'])).toEqual(['kai/phone']);
    // A first registration by Lu, older than Kai's but applied after it, is kept inactive.
    await store.apply([register('lu', 'tablet', 'token-replayed')], [t0]);
    expect(await active(['jo', 'phone'], ['kai', 'phone'], ['lu', 'tablet'])).toEqual(['kai/phone']);
    // A newer one takes it.
    await store.apply([register('jo', 'phone', 'token-replayed')], [t2]);
    expect(await active(['jo', 'phone'], ['kai', 'phone'], ['lu', 'tablet'])).toEqual(['jo/phone']);
  });

  it('leaves a device whose token the vendor declared gone inactive when its registration is applied again', async () => {
    const store = new RecipientStore(dataSource());
    const [t0, t1] = [new Date('2030-05-01T12:00:00Z'), new Date('2030-05-01T12:30:00Z')];
    await store.apply([register('vic', 'phone', 'token-gone')], [t0]);
    // What the channel worker writes when the vendor answers that the token is unregistered.
    await dataSource().query(`UPDATE devices SET active = false, deactivated_reason = 'Unregistered' WHERE user_id = 'vic'`);
    // The batch that registered it, applied again (its consumer lost the partition before the commit of its offsets).
    await store.apply([register('vic', 'phone', 'token-gone')], [t0]);
    expect(await dataSource().query(`SELECT active, deactivated_reason FROM devices WHERE user_id = 'vic'`)).toEqual([{ active: false, deactivated_reason: 'Unregistered' }]);
    // The app registering the token again, later (a reinstall that got the same token), makes it active.
    await store.apply([register('vic', 'phone', 'token-gone')], [t1]);
    expect(await active(['vic', 'phone'])).toEqual(['vic/phone']);
  });

  it('leaves a token with the registration that won a tie of times when the one that lost it is applied again', async () => {
    const store = new RecipientStore(dataSource());
    // Two registrations stamped the same second (a producer that stamps records from a clock in seconds).
    const at = new Date('2030-05-01T13:00:00Z');
    await store.apply([register('uma', 'phone', 'token-tied'), register('xan', 'phone', 'token-tied')], [at, at]);
    expect(await active(['uma', 'phone'], ['xan', 'phone'])).toEqual(['xan/phone']);
    // Uma's registration again on its own (a replay split the batch otherwise): the token stays with Xan.
    await store.apply([register('uma', 'phone', 'token-tied')], [at]);
    expect(await active(['uma', 'phone'], ['xan', 'phone'])).toEqual(['xan/phone']);
    // Xan's again takes nothing more, and Uma signing in later takes it.
    await store.apply([register('xan', 'phone', 'token-tied')], [at]);
    expect(await active(['uma', 'phone'], ['xan', 'phone'])).toEqual(['xan/phone']);
    await store.apply([register('uma', 'phone', 'token-tied')], [new Date('2030-05-01T13:00:01Z')]);
    expect(await active(['uma', 'phone'], ['xan', 'phone'])).toEqual(['uma/phone']);
  });

  it('keeps a device’s newest registration when an older one of it is applied later', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([register('mo', 'phone', 'token-fresh')], [new Date('2030-05-02T10:00:00Z')]);
    await store.apply([register('mo', 'phone', 'token-stale')], [new Date('2030-05-02T09:00:00Z')]);
    expect(await dataSource().query(`SELECT token, active FROM devices WHERE user_id = 'mo'`)).toEqual([{ token: 'token-fresh', active: true }]);
  });

  it('gives a token registered twice in one batch to the newer registration, not the later one', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([register('ny', 'phone', 'token-skew'), register('oz', 'phone', 'token-skew')], [new Date('2030-05-03T10:00:00Z'), new Date('2030-05-03T09:00:00Z')]);
    expect(await active(['ny', 'phone'], ['oz', 'phone'])).toEqual(['ny/phone']);
  });

  it('keeps a late registration inactive though the newer holder of its token has removed its device since', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([register('pia', 'phone', 'token-left')], [new Date('2030-05-04T10:00:00Z')]);
    // Quinn signs in on that phone, then out again.
    await store.apply([register('quinn', 'phone', 'token-left')], [new Date('2030-05-04T11:00:00Z')]);
    await store.apply([{ op: 'device-removed', userId: 'quinn', deviceId: 'phone' }]);
    // Pia's first registration, applied late (her partition was behind).
    await store.apply([register('pia', 'phone', 'token-left')], [new Date('2030-05-04T10:00:00Z')]);
    expect(await active(['pia', 'phone'], ['quinn', 'phone'])).toEqual([]);
    // Pia signing in on it again, later, takes it.
    await store.apply([register('pia', 'phone', 'token-left')], [new Date('2030-05-04T12:00:00Z')]);
    expect(await active(['pia', 'phone'])).toEqual(['pia/phone']);
  });

  it('keeps a device’s newest registration of a batch, whatever order its registrations came in', async () => {
    const store = new RecipientStore(dataSource());
    // A producer's retry put the older registration after the newer one.
    await store.apply([register('ray', 'phone', 'token-new-app'), register('ray', 'phone', 'token-old-app')], [new Date('2030-05-05T10:00:00Z'), new Date('2030-05-05T09:00:00Z')]);
    expect(await dataSource().query(`SELECT token, active FROM devices WHERE user_id = 'ray'`)).toEqual([{ token: 'token-new-app', active: true }]);
  });

  it('removes a device before weighing the older registration of it that follows in the same batch', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([register('sol', 'phone', 'token-signed-out-too')], [new Date('2030-05-06T10:00:00Z')]);
    // Sol signs out; a retried older registration comes after the removal, in the same batch.
    await store.apply([{ op: 'device-removed', userId: 'sol', deviceId: 'phone' }, register('sol', 'phone', 'token-signed-out-too')], [new Date('2030-05-06T10:05:00Z'), new Date('2030-05-06T09:00:00Z')]);
    expect(await active(['sol', 'phone'])).toEqual([]);
  });

  it('registers two devices swapping their tokens at once without a deadlock', async () => {
    const store = new RecipientStore(dataSource());
    // Each round its own devices and tokens: most pairs of tokens fall in different lock buckets.
    for (let round = 0; round < 30; round++) {
      const [uwe, vic, t1, t2] = [`uwe-${round}`, `vic-${round}`, `token-swap-1-${round}`, `token-swap-2-${round}`];
      await store.apply([register(uwe, 'phone', t2), register(vic, 'tablet', t1)]);
      // Each takes the other's token: each deactivates the row the other registers.
      const results = await Promise.allSettled([store.apply([register(uwe, 'phone', t1)]), store.apply([register(vic, 'tablet', t2)])]);
      expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : r.status))).toEqual(['fulfilled', 'fulfilled']);
      expect(await dataSource().query(`SELECT user_id, token, active FROM devices WHERE user_id IN ($1, $2) ORDER BY user_id`, [uwe, vic])).toEqual([
        { user_id: uwe, token: t1, active: true },
        { user_id: vic, token: t2, active: true },
      ]);
    }
  });

  it('takes the locks again, in order, when a device’s token changes while its registration waits for them', async () => {
    const { seen, logged } = await loggedDataSource();
    const run = (text: string) => seen.filter(({ sql }) => sql.includes(text));
    const other = dataSource().createQueryRunner();
    try {
      await new RecipientStore(logged).apply([register('wes', 'phone', 'token-before')]);
      seen.length = 0;
      await other.connect();
      await other.startTransaction();
      await other.query(`SELECT pg_advisory_xact_lock(7361002, hashtext('fcm:token-wanted') & 255)`);
      const registering = new RecipientStore(logged).apply([register('wes', 'phone', 'token-wanted')]);
      await eventually(async () => run('pg_advisory_xact_lock').length, (n) => n === 1);
      // While it waits, the device's token changes (as another registration of it would leave it).
      await other.query(`UPDATE devices SET token = 'token-meanwhile' WHERE user_id = 'wes'`);
      await other.commitTransaction();
      await registering;
      expect(run('ROLLBACK TO SAVEPOINT')).toHaveLength(1);
      expect(run('pg_advisory_xact_lock')).toHaveLength(2);
      expect(await dataSource().query(`SELECT token, active FROM devices WHERE user_id = 'wes'`)).toEqual([{ token: 'token-wanted', active: true }]);
    } finally {
      if (other.isTransactionActive) await other.rollbackTransaction();
      await other.release();
      await logged.destroy();
    }
  });

  it('finds a token’s newest registration through the key of push_tokens, not by reading them all', async () => {
    const { seen, logged } = await loggedDataSource();
    try {
      await logged.query(`INSERT INTO push_tokens (provider, token_md5, registered_at) SELECT 'fcm', md5('many-' || n), now() FROM generate_series(1, 20000) n`);
      await logged.query(`ANALYZE push_tokens`);
      await new RecipientStore(logged).apply([register('tia', 'phone', 'token-among-many')]);
      const insert = seen.find(({ sql }) => sql.includes('INSERT INTO devices'))!;
      const [{ 'QUERY PLAN': plan }] = await logged.query(`EXPLAIN (FORMAT JSON) ${insert.sql}`, insert.params);
      const scans: string[] = [];
      JSON.stringify(plan, (_key, value: { 'Node Type'?: string; 'Relation Name'?: string }) => {
        if (value && value['Relation Name'] === 'push_tokens') scans.push(value['Node Type']!);
        return value;
      });
      expect(scans.length).toBeGreaterThan(0);
      expect(scans.filter((scan) => scan === 'Seq Scan')).toEqual([]);
    } finally {
      await logged.destroy();
    }
  });
});

describe('RecipientStore contact fields', () => {
  const database = migratedDatabase();
  const dataSource = () => database.dataSource();
  const profile = async (userId: string) =>
    ((await dataSource().query(`SELECT phone, updated_at FROM recipients WHERE user_id = $1`, [userId])) as { phone: string | null; updated_at: Date }[])[0];

  it('moves updated_at only when a contact field changes, and makes no recipient of an update without one', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([{ op: 'upsert', userId: 'jo', phone: '+8613800000001' }]);
    const first = await profile('jo');
    // now() is the transaction's start: the next transactions start later.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.apply([{ op: 'upsert', userId: 'jo', phone: '+8613800000001' }, { op: 'upsert', userId: 'kim' }]);
    expect(await profile('jo')).toEqual(first);
    expect(await profile('kim')).toBeUndefined();

    await store.apply([{ op: 'upsert', userId: 'jo', phone: '+8613800000002' }]);
    const changed = await profile('jo');
    expect(changed!.phone).toBe('+8613800000002');
    expect(changed!.updated_at.getTime()).toBeGreaterThan(first!.updated_at.getTime());
  });

  it('clears the fields an upsert lists in `clear`, in the batch’s order, and makes no recipient of an unknown user', async () => {
    const store = new RecipientStore(dataSource());
    const contacts = async (userId: string) => (await dataSource().query(`SELECT phone, email, timezone FROM recipients WHERE user_id = $1`, [userId])) as object[];
    await store.apply([{ op: 'upsert', userId: 'lu', phone: '+8613800000003', email: 'lu@example.com', timezone: 'Asia/Shanghai' }]);
    await store.apply([{ op: 'upsert', userId: 'lu', clear: ['phone', 'timezone'] }]);
    expect(await contacts('lu')).toEqual([{ phone: null, email: 'lu@example.com', timezone: null }]);

    // Later wins within a batch: a number cleared then given is kept, one given then cleared is not.
    await store.apply([{ op: 'upsert', userId: 'lu', clear: ['phone'] }, { op: 'upsert', userId: 'lu', phone: '+8613800000004' }]);
    expect(await contacts('lu')).toEqual([{ phone: '+8613800000004', email: 'lu@example.com', timezone: null }]);
    await store.apply([{ op: 'upsert', userId: 'lu', phone: '+8613800000005' }, { op: 'upsert', userId: 'lu', clear: ['phone', 'email'] }]);
    expect(await contacts('lu')).toEqual([{ phone: null, email: null, timezone: null }]);

    await store.apply([{ op: 'upsert', userId: 'mo', clear: ['phone'] }]);
    expect(await contacts('mo')).toEqual([]);
  });

  it('writes nothing of a batch whose check before the commit throws (its consumer no longer holds the partition)', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([{ op: 'upsert', userId: 'ned', phone: '+8613800000006' }]);
    const stale = [
      { op: 'upsert' as const, userId: 'ned', phone: '+8613800000007' },
      { op: 'subscribe' as const, userId: 'ned', topic: 'deals' },
      { op: 'device' as const, userId: 'ned', deviceId: 'phone', provider: 'fcm' as const, token: 'token-stale' },
    ];
    let checked = 0;
    const lost = async () => {
      checked++;
      throw new Error('partition lost');
    };
    await expect(store.apply(stale, [], lost)).rejects.toThrow('partition lost');
    expect(checked).toBe(1);
    expect((await profile('ned'))!.phone).toBe('+8613800000006');
    expect(await dataSource().query(`SELECT 1 FROM topic_subscriptions WHERE user_id = 'ned'`)).toEqual([]);
    expect(await dataSource().query(`SELECT 1 FROM devices WHERE user_id = 'ned'`)).toEqual([]);

    // The check comes after the writes: the row the batch updates is locked by then.
    let lockDuringCheck = '';
    await store.apply(stale, [], async () => {
      checked++;
      lockDuringCheck = await dataSource()
        .query(`SELECT 1 FROM recipients WHERE user_id = 'ned' FOR UPDATE NOWAIT`)
        .then(
          () => 'free',
          (error: { code?: string }) => error.code ?? 'error',
        );
    });
    expect(checked).toBe(2);
    expect(lockDuringCheck).toBe('55P03');
    expect((await profile('ned'))!.phone).toBe('+8613800000007');
  });
});

/** A user erased or gone: their contact points go in one update, applied in the batch's order. */
describe('RecipientStore user-removed', () => {
  const database = migratedDatabase();
  const dataSource = () => database.dataSource();
  const rows = async (userId: string) => ({
    recipients: await dataSource().query(`SELECT phone, email FROM recipients WHERE user_id = $1`, [userId]),
    devices: (await dataSource().query(`SELECT device_id FROM devices WHERE user_id = $1 ORDER BY device_id`, [userId])).map((d: { device_id: string }) => d.device_id),
    topics: (await dataSource().query(`SELECT topic FROM topic_subscriptions WHERE user_id = $1 ORDER BY topic`, [userId])).map((t: { topic: string }) => t.topic),
  });
  const device = (userId: string, deviceId: string) => ({ op: 'device' as const, userId, deviceId, provider: 'apns' as const, token: `token-${userId}-${deviceId}` });

  it('deletes the user’s profile, devices and subscriptions and keeps other users’, so nothing reaches their contacts any more', async () => {
    const store = new RecipientStore(dataSource());
    for (const userId of ['ana', 'ben']) {
      await store.apply([
        { op: 'upsert', userId, phone: userId === 'ana' ? '+8613800000011' : '+8613800000012', email: `${userId}@example.com` },
        device(userId, 'ipad'),
        device(userId, 'pixel'),
        { op: 'subscribe', userId, topic: 'news' },
        { op: 'subscribe', userId, topic: 'alerts' },
      ]);
    }
    await store.apply([{ op: 'user-removed', userId: 'ana' }]);
    expect(await rows('ana')).toEqual({ recipients: [], devices: [], topics: [] });
    expect(await rows('ben')).toEqual({ recipients: [{ phone: '+8613800000012', email: 'ben@example.com' }], devices: ['ipad', 'pixel'], topics: ['alerts', 'news'] });
    // What the channel worker reads at send time: no number or address, no active device.
    expect([...(await store.profiles(['ana', 'ben'])).keys()]).toEqual(['ben']);
    const devices = await new PushDeviceStore(dataSource()).activeDevices(['ana', 'ben'].map((userId) => ({ userId, deviceId: 'ipad' })));
    expect(devices.map((d) => d.userId)).toEqual(['ben']);
    // Idempotent: removing a user the platform no longer knows changes nothing.
    await store.apply([{ op: 'user-removed', userId: 'ana' }]);
    expect(await rows('ana')).toEqual({ recipients: [], devices: [], topics: [] });
  });

  it('applies the batch’s updates of the user after the removal, and none of those before it', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([{ op: 'upsert', userId: 'cal', phone: '+8613800000013' }, device('cal', 'ipad'), { op: 'subscribe', userId: 'cal', topic: 'news' }]);
    await store.apply([
      { op: 'upsert', userId: 'cal', email: 'cal@example.com' },
      device('cal', 'pixel'),
      { op: 'subscribe', userId: 'cal', topic: 'deals' },
      { op: 'user-removed', userId: 'cal' },
      { op: 'upsert', userId: 'cal', phone: '+8613800000014' },
      device('cal', 'watch'),
      { op: 'subscribe', userId: 'cal', topic: 'alerts' },
    ]);
    expect(await rows('cal')).toEqual({ recipients: [{ phone: '+8613800000014', email: null }], devices: ['watch'], topics: ['alerts'] });
  });

  it('lets a registration before the removal take its token from an older holder, and not from one of the same time, as applied on its own', async () => {
    const store = new RecipientStore(dataSource());
    const phone = (userId: string, token: string) => ({ op: 'device' as const, userId, deviceId: 'phone', provider: 'apns' as const, token });
    const activeOf = async (...users: string[]) =>
      (await dataSource().query(`SELECT user_id FROM devices WHERE user_id = ANY($1) AND active ORDER BY user_id`, [users])).map((d: { user_id: string }) => d.user_id);
    // A tie of times that Xan won (a producer that stamps records in whole seconds), then Uma's
    // registration replayed in the batch that removes her: applied on its own it takes nothing.
    const at = new Date('2030-06-02T10:00:00Z');
    await store.apply([phone('uma', 'token-tie'), phone('xan', 'token-tie')], [at, at]);
    await store.apply([phone('uma', 'token-tie'), { op: 'user-removed', userId: 'uma' }], [at, at]);
    expect(await activeOf('uma', 'xan')).toEqual(['xan']);
    // A newer registration does take the token from the older holder, whose phone it no longer addresses.
    await store.apply([phone('yan', 'token-moved')], [at]);
    await store.apply([phone('zed', 'token-moved'), { op: 'user-removed', userId: 'zed' }], [new Date('2030-06-02T11:00:00Z'), new Date('2030-06-02T11:00:00Z')]);
    expect(await activeOf('yan', 'zed')).toEqual([]);
  });

  it('lets an older update applied after the removal make again what it names, as after device-removed', async () => {
    const store = new RecipientStore(dataSource());
    await store.apply([device('dee', 'ipad')], [new Date('2030-06-01T10:00:00Z')]);
    await store.apply([{ op: 'user-removed', userId: 'dee' }]);
    expect(await rows('dee')).toEqual({ recipients: [], devices: [], topics: [] });
    // A replayed batch: its registration comes back.
    await store.apply([device('dee', 'ipad')], [new Date('2030-06-01T10:00:00Z')]);
    expect(await rows('dee')).toEqual({ recipients: [], devices: ['ipad'], topics: [] });
  });

  describe('records the removal, for retention to forget the user’s inbox numbers', () => {
    const removedAt = async (userId: string): Promise<Date | undefined> =>
      (await dataSource().query(`SELECT removed_at FROM removed_users WHERE user_id = $1`, [userId]))[0]?.removed_at;
    const longAgo = new Date('2020-01-01T00:00:00Z');

    it('when the user is removed, moving it at a second removal, and forgets it once the user is written again', async () => {
      const store = new RecipientStore(dataSource());
      await store.apply([{ op: 'upsert', userId: 'eva', phone: '+8613800000015' }]);
      expect(await removedAt('eva')).toBeUndefined();
      await store.apply([{ op: 'user-removed', userId: 'eva' }]);
      expect(await removedAt('eva')).toEqual(expect.any(Date));
      await dataSource().query(`UPDATE removed_users SET removed_at = $2 WHERE user_id = $1`, ['eva', longAgo]);
      await store.apply([{ op: 'user-removed', userId: 'eva' }]);
      expect((await removedAt('eva'))!.getTime()).toBeGreaterThan(longAgo.getTime());

      // What makes nothing of the user does not bring them back.
      await store.apply([
        { op: 'upsert', userId: 'eva', clear: ['phone'] },
        { op: 'device-removed', userId: 'eva', deviceId: 'ipad' },
        { op: 'unsubscribe', userId: 'eva', topic: 'news' },
      ]);
      expect(await removedAt('eva')).toEqual(expect.any(Date));
      // Each of what does.
      for (const back of [{ op: 'upsert' as const, userId: 'eva', email: 'eva@example.com' }, device('eva', 'ipad'), { op: 'subscribe' as const, userId: 'eva', topic: 'news' }]) {
        await store.apply([{ op: 'user-removed', userId: 'eva' }]);
        await store.apply([back]);
        expect(await removedAt('eva')).toBeUndefined();
      }
    });

    it('in the batch’s order', async () => {
      const store = new RecipientStore(dataSource());
      await store.apply([{ op: 'user-removed', userId: 'fin' }, { op: 'subscribe', userId: 'fin', topic: 'news' }]);
      expect(await removedAt('fin')).toBeUndefined();
      await store.apply([{ op: 'subscribe', userId: 'fin', topic: 'deals' }, { op: 'user-removed', userId: 'fin' }]);
      expect(await removedAt('fin')).toEqual(expect.any(Date));
    });

    it('through the query API’s role (RemoveRecipient), which may write it', async () => {
      const asQueryApi = await createDataSource({ databaseUrl: withSessionSettings(database.url(), { role: QUERY_API_ROLE }), databasePoolSize: 1 }).initialize();
      try {
        const store = new RecipientStore(asQueryApi);
        await store.apply([{ op: 'user-removed', userId: 'gil' }]);
        await dataSource().query(`UPDATE removed_users SET removed_at = $2 WHERE user_id = $1`, ['gil', longAgo]);
        await store.apply([{ op: 'user-removed', userId: 'gil' }]);
        expect((await removedAt('gil'))!.getTime()).toBeGreaterThan(longAgo.getTime());
        await store.apply([{ op: 'upsert', userId: 'gil', email: 'gil@example.com' }]);
        expect(await removedAt('gil')).toBeUndefined();
      } finally {
        await asQueryApi.destroy();
      }
    });
  });
});
