import type { DataSource, EntityManager } from 'typeorm';
import { CLEARABLE_FIELDS, type ClearableField, type PushProvider, type RecipientUpdate } from '@notify/contracts';
import { queryRows } from './rows';

export interface RecipientProfile {
  userId: string;
  phone: string | null;
  email: string | null;
  locale: string | null;
}

export interface ActiveDevice {
  userId: string;
  deviceId: string;
  provider: PushProvider;
  locale: string | null;
}

/** What routing needs to know about a batch's recipients, read in three queries. */
export interface RecipientDirectory {
  subscribers: Map<string, string[]>;
  profiles: Map<string, RecipientProfile>;
  devices: Map<string, ActiveDevice[]>;
}

/** Names the advisory locks taken while push tokens are registered (any fixed number). */
const TOKEN_LOCK = 7_361_002;
/**
 * Tokens share this many locks (a hash of the token picks one). A lock per token was one entry of
 * PostgreSQL's shared lock table per token until commit: a batch of a few thousand registrations
 * (an app release's re-registrations) filled the table ("out of shared memory"), failed whole, and
 * came back for ever. Two registrations of one token still always meet on the same lock.
 */
const TOKEN_LOCK_BUCKETS = 256;

type Upsert = Extract<RecipientUpdate, { op: 'upsert' }>;
/** A user's contact fields after the batch's upserts: a value to set, null to clear, absent to keep. */
type Profile = { userId: string } & { [field in ClearableField]?: string | null };
type Device = Extract<RecipientUpdate, { op: 'device' }>;
/** A registration and when it was made. */
type TimedDevice = Device & { madeAt: Date };
/** A token's newest registration in a batch; `removed` when its user is removed later in the batch. */
type TokenOwner = TimedDevice & { removed: boolean };
/** A device the batch touches: whether it removes it, and the registration it keeps after that removal. */
type TouchedDevice = { userId: string; deviceId: string; removed: boolean; registration?: TimedDevice };
type Subscription = { userId: string; topic: string; subscribed: boolean };

/** What a batch changes, per table. */
interface Changes {
  /** Users the batch removes (`user-removed`): their rows go before the batch's later updates of them are written. */
  removedUsers: string[];
  /** Profiles that set a contact field. */
  upserts: Profile[];
  /** Profiles that clear a contact field. */
  clears: Profile[];
  /** Per device, its newest registration since its last removal in the batch. */
  registered: TimedDevice[];
  /** Devices the batch removes. */
  removed: TouchedDevice[];
  /** Per token, its newest registration. */
  owners: TokenOwner[];
  subscribed: Subscription[];
  unsubscribed: Subscription[];
}

/** Recipients, devices and topic subscriptions, written per batch from notify.recipients. */
export class RecipientStore {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Applies a batch in its order: per profile the fields merge (later wins, absent fields stay, a
   * field in `clear` is emptied);
   * per device and per subscription only the last operation counts. A `user-removed` deletes the
   * user's profile, devices and subscriptions and records when (`removed_users`), and only the
   * updates of that user after it count. Then one statement per kind.
   *
   * A push token goes to its newest registration by `madeAt` (when each update was made; now where
   * it is not given), not by the order registrations are applied in: one applied late (a batch
   * replayed, one user's partition behind another's) neither takes the token back nor replaces a
   * newer registration of its device. A registration takes its token from every older one, also when
   * a later update of the batch removes its device or gives it another token.
   *
   * `beforeCommit` runs in the transaction after its writes; when it throws, nothing is written. The
   * consumer of notify.recipients checks there that its partition is still its own (a batch that
   * outlived its member's place in the group would undo the newer updates its successor applied).
   */
  async apply(updates: RecipientUpdate[], madeAt: readonly Date[] = [], beforeCommit?: () => Promise<void>): Promise<void> {
    const changes = changesOf(updates, madeAt, new Date());
    await this.dataSource.transaction(async (tx) => {
      // Each table's rows of removed users go before that table's writes: those are what came after the removal.
      await writeProfiles(tx, changes);
      await writeTokens(tx, changes);
      await writeDevices(tx, changes);
      await writeSubscriptions(tx, changes);
      await writeRemovals(tx, changes);
      await beforeCommit?.();
    });
  }

  /** The subscribers of the topics, and the profiles and active devices of those users and the given ones. */
  async lookup(userIds: string[], topics: string[]): Promise<RecipientDirectory> {
    const subscribers = new Map<string, string[]>(topics.map((t) => [t, []]));
    if (topics.length > 0) {
      const rows = await queryRows<{ topic: string; user_id: string }>(
        this.dataSource,
        'SELECT topic, user_id FROM topic_subscriptions WHERE topic = ANY($1::varchar[]) ORDER BY topic, user_id',
        [topics],
      );
      for (const row of rows) subscribers.get(row.topic)!.push(row.user_id);
    }
    const everyone = [...new Set([...userIds, ...[...subscribers.values()].flat()])];
    const [profiles, deviceRows] = await Promise.all([
      this.profiles(everyone),
      everyone.length === 0
        ? []
        : queryRows<{ user_id: string; device_id: string; provider: PushProvider; locale: string | null }>(
            this.dataSource,
            'SELECT user_id, device_id, provider, locale FROM devices WHERE user_id = ANY($1::varchar[]) AND active ORDER BY user_id, device_id',
            [everyone],
          ),
    ]);
    const devices = new Map<string, ActiveDevice[]>();
    for (const row of deviceRows) {
      const list = devices.get(row.user_id) ?? [];
      list.push({ userId: row.user_id, deviceId: row.device_id, provider: row.provider, locale: row.locale });
      devices.set(row.user_id, list);
    }
    return { subscribers, profiles, devices };
  }

  /**
   * The known users' contacts as they stand now, in one query; a user the platform knows nothing of
   * is absent. The channel worker checks a delivery's endpoint against them (architecture D22).
   */
  async profiles(userIds: string[]): Promise<Map<string, RecipientProfile>> {
    const users = [...new Set(userIds)];
    if (users.length === 0) return new Map();
    const rows = await queryRows<{ user_id: string; phone: string | null; email: string | null; locale: string | null }>(
      this.dataSource,
      'SELECT user_id, phone, email, locale FROM recipients WHERE user_id = ANY($1::varchar[])',
      [users],
    );
    return new Map(rows.map((row) => [row.user_id, { userId: row.user_id, phone: row.phone, email: row.email, locale: row.locale }]));
  }
}

/**
 * A batch's updates merged into the changes of each table, as `RecipientStore.apply` describes; a
 * registration whose time `madeAt` does not give was made `now`.
 */
function changesOf(updates: RecipientUpdate[], madeAt: readonly Date[], now: Date): Changes {
  const profiles = new Map<string, Profile>();
  // Per device: whether the batch removes it, and the registration it keeps after that removal.
  const devices = new Map<string, TouchedDevice>();
  // Per token, its newest registration in the batch (the later one of two made at the same time).
  const tokenOwners = new Map<string, TokenOwner>();
  const subscriptions = new Map<string, Subscription>();
  // Per user, the batch's last removal of them: their updates before it count no more.
  const removedAt = new Map<string, number>();
  for (const [index, update] of updates.entries()) if (update.op === 'user-removed') removedAt.set(update.userId, index);
  for (const [index, update] of updates.entries()) {
    const superseded = index < (removedAt.get(update.userId) ?? -1);
    // A registration before the removal still takes its token from every older one, as one whose device is removed does.
    if (superseded && update.op !== 'device') continue;
    switch (update.op) {
      case 'upsert':
        profiles.set(update.userId, { ...profiles.get(update.userId), ...profileOf(update) });
        break;
      case 'device-removed': {
        devices.set(`${update.userId}\u0000${update.deviceId}`, { userId: update.userId, deviceId: update.deviceId, removed: true });
        break;
      }
      case 'device': {
        // Per device, its newest registration since its last removal in the batch, whatever order
        // they came in (a producer's retry can put an older one after a newer one).
        const key = `${update.userId}\u0000${update.deviceId}`;
        const registration = { ...update, madeAt: madeAt[index] ?? now };
        if (!superseded) {
          const device = devices.get(key) ?? { userId: update.userId, deviceId: update.deviceId, removed: false };
          if (device.registration === undefined || device.registration.madeAt <= registration.madeAt) device.registration = registration;
          devices.set(key, device);
        }
        const token = `${update.provider}\u0000${update.token}`;
        const owner = tokenOwners.get(token);
        if (owner === undefined || owner.madeAt <= registration.madeAt) tokenOwners.set(token, { ...registration, removed: superseded });
        break;
      }
      case 'subscribe':
      case 'unsubscribe':
        subscriptions.set(`${update.userId}\u0000${update.topic}`, { userId: update.userId, topic: update.topic, subscribed: update.op === 'subscribe' });
        break;
      case 'user-removed':
        // Taken in `removedAt` above.
        break;
    }
  }
  // An upsert that gives no contact field changes nothing, and makes no recipient of an unknown user.
  const upserts = [...profiles.values()].filter((u) => CLEARABLE_FIELDS.some((field) => typeof u[field] === 'string'));
  // A field a user's last word in the batch clears; another field's value is set by the upsert above.
  const clears = [...profiles.values()].filter((u) => CLEARABLE_FIELDS.some((field) => u[field] === null));
  return {
    removedUsers: [...removedAt.keys()],
    upserts,
    clears,
    registered: [...devices.values()].flatMap((d) => (d.registration ? [d.registration] : [])),
    removed: [...devices.values()].filter((d) => d.removed),
    owners: [...tokenOwners.values()],
    subscribed: [...subscriptions.values()].filter((s) => s.subscribed),
    unsubscribed: [...subscriptions.values()].filter((s) => !s.subscribed),
  };
}

/** `recipients`: removed users' profiles, then the merged upserts, then the cleared fields. */
async function writeProfiles(tx: EntityManager, { removedUsers, upserts, clears }: Changes): Promise<void> {
  if (removedUsers.length > 0) {
    await tx.query(`DELETE FROM recipients WHERE user_id = ANY($1::varchar[])`, [removedUsers]);
  }
  if (upserts.length > 0) {
    await tx.query(
      `INSERT INTO recipients (user_id, phone, email, locale, timezone)
       SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[])
       ON CONFLICT (user_id) DO UPDATE SET
         phone = COALESCE(EXCLUDED.phone, recipients.phone),
         email = COALESCE(EXCLUDED.email, recipients.email),
         locale = COALESCE(EXCLUDED.locale, recipients.locale),
         timezone = COALESCE(EXCLUDED.timezone, recipients.timezone),
         updated_at = now()
       -- updated_at is when the contact fields last changed: an update repeating them leaves it.
       WHERE (recipients.phone, recipients.email, recipients.locale, recipients.timezone) IS DISTINCT FROM
             (COALESCE(EXCLUDED.phone, recipients.phone), COALESCE(EXCLUDED.email, recipients.email),
              COALESCE(EXCLUDED.locale, recipients.locale), COALESCE(EXCLUDED.timezone, recipients.timezone))`,
      [
        upserts.map((u) => u.userId),
        upserts.map((u) => u.phone ?? null),
        upserts.map((u) => u.email ?? null),
        upserts.map((u) => u.locale ?? null),
        upserts.map((u) => u.timezone ?? null),
      ],
    );
  }
  if (clears.length > 0) {
    // Only a known user's fields: clearing makes no recipient of an unknown one.
    await tx.query(
      `UPDATE recipients r SET
         phone = CASE WHEN 'phone' = ANY(c.cleared) THEN NULL ELSE r.phone END,
         email = CASE WHEN 'email' = ANY(c.cleared) THEN NULL ELSE r.email END,
         locale = CASE WHEN 'locale' = ANY(c.cleared) THEN NULL ELSE r.locale END,
         timezone = CASE WHEN 'timezone' = ANY(c.cleared) THEN NULL ELSE r.timezone END,
         updated_at = now()
         FROM (SELECT u AS user_id, string_to_array(f, ',') AS cleared FROM unnest($1::varchar[], $2::text[]) AS x(u, f)) AS c
        WHERE r.user_id = c.user_id
          AND ('phone' = ANY(c.cleared) AND r.phone IS NOT NULL OR 'email' = ANY(c.cleared) AND r.email IS NOT NULL
               OR 'locale' = ANY(c.cleared) AND r.locale IS NOT NULL OR 'timezone' = ANY(c.cleared) AND r.timezone IS NOT NULL)`,
      [clears.map((u) => u.userId), clears.map((u) => CLEARABLE_FIELDS.filter((field) => u[field] === null).join(','))],
    );
  }
}

/**
 * `push_tokens`: each token's newest registration, under the token locks. Before any device row is
 * written, a removed user's too: a transaction holding a device row while it waits for a bucket
 * could deadlock with that bucket's holder, whose deactivation in `writeDevices` waits for the row.
 */
async function writeTokens(tx: EntityManager, { owners, registered }: Changes): Promise<void> {
  if (owners.length === 0) return;
  await lockTokenBuckets(tx, owners, registered);
  // The batch's own registrations count too: an older one of a token in the batch is weighed against its newest.
  await tx.query(
    `INSERT INTO push_tokens (provider, token_md5, registered_at)
     SELECT provider, md5(token), registered_at FROM unnest($1::varchar[], $2::varchar[], $3::timestamptz[]) AS o(provider, token, registered_at)
     ON CONFLICT (provider, token_md5) DO UPDATE SET registered_at = GREATEST(push_tokens.registered_at, EXCLUDED.registered_at)`,
    [owners.map((d) => d.provider), owners.map((d) => d.token), owners.map((d) => d.madeAt)],
  );
}

/** `devices`: removed users' and removed devices' rows, then the registrations, then the tokens they take from other rows. */
async function writeDevices(tx: EntityManager, { removedUsers, removed, registered, owners }: Changes): Promise<void> {
  // Removals before registrations: a device removed and then registered again in the batch is
  // weighed as it would be in a batch of its own; one registered and then removed has no row.
  // The md5s of a removed user's tokens stay in push_tokens: a registration of theirs applied
  // late is weighed against them like any other (purged with the tokens no device holds).
  if (removedUsers.length > 0) {
    await tx.query(`DELETE FROM devices WHERE user_id = ANY($1::varchar[])`, [removedUsers]);
  }
  if (removed.length > 0) {
    await tx.query(
      `DELETE FROM devices d USING unnest($1::varchar[], $2::varchar[]) AS r(user_id, device_id)
        WHERE d.user_id = r.user_id AND d.device_id = r.device_id`,
      [removed.map((d) => d.userId), removed.map((d) => d.deviceId)],
    );
  }
  if (registered.length > 0) {
    // A registration older than its device's row changes nothing; one older than the token's newest
    // registration (`push_tokens`, of any device, also one removed since) is kept, but inactive.
    // The same registration again (its batch applied again) changes nothing either: rewritten, it
    // made a device active again whose token the vendor had since declared gone.
    await tx.query(
      `INSERT INTO devices (user_id, device_id, provider, token, locale, registered_at, active, deactivated_reason)
       SELECT r.user_id, r.device_id, r.provider, r.token, r.locale, r.registered_at, NOT held.newer,
              CASE WHEN held.newer THEN 'token registered to another device' END
         FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::timestamptz[])
                AS r(user_id, device_id, provider, token, locale, registered_at)
         CROSS JOIN LATERAL (
           SELECT COALESCE((SELECT t.registered_at > r.registered_at FROM push_tokens t
                             WHERE t.provider = r.provider AND t.token_md5 = md5(r.token)), false) AS newer) AS held
       ON CONFLICT (user_id, device_id) DO UPDATE SET
         provider = EXCLUDED.provider, token = EXCLUDED.token, locale = EXCLUDED.locale, registered_at = EXCLUDED.registered_at,
         active = EXCLUDED.active, deactivated_reason = EXCLUDED.deactivated_reason, updated_at = now()
       WHERE devices.registered_at < EXCLUDED.registered_at
          OR (devices.registered_at = EXCLUDED.registered_at AND (devices.provider, devices.token) IS DISTINCT FROM (EXCLUDED.provider, EXCLUDED.token))`,
      [
        registered.map((d) => d.userId),
        registered.map((d) => d.deviceId),
        registered.map((d) => d.provider),
        registered.map((d) => d.token),
        registered.map((d) => d.locale ?? null),
        registered.map((d) => d.madeAt),
      ],
    );
  }
  if (owners.length > 0) {
    // A push token addresses one app installation. Registered again, by another user signed in on
    // that phone or as another device id, it leaves every other row that holds it: otherwise the
    // first user's notifications would go on reaching the phone the second one now holds.
    // A holder registered at the very same time is taken from only by a registration that did not
    // lose that tie before: applied again on its own (a replay), the loser would leave the token
    // with no active device at all. Not by one of a user the batch removes: their rows are gone
    // already, so whether it lost the tie is no longer known, and either way, applied on its own,
    // it would leave the holder as it is.
    await tx.query(
      `UPDATE devices d SET active = false, deactivated_reason = 'token registered to another device', updated_at = now()
         FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::timestamptz[], $6::boolean[]) AS o(user_id, device_id, provider, token, registered_at, removed)
        WHERE d.provider = o.provider AND md5(d.token) = md5(o.token) AND d.token = o.token AND d.active
          AND NOT (d.user_id = o.user_id AND d.device_id = o.device_id)
          AND (d.registered_at < o.registered_at
               OR d.registered_at = o.registered_at AND NOT o.removed
                  AND NOT EXISTS (SELECT 1 FROM devices lost
                                   WHERE lost.user_id = o.user_id AND lost.device_id = o.device_id AND lost.provider = o.provider
                                     AND lost.token = o.token AND lost.registered_at = o.registered_at AND NOT lost.active))`,
      [owners.map((d) => d.userId), owners.map((d) => d.deviceId), owners.map((d) => d.provider), owners.map((d) => d.token), owners.map((d) => d.madeAt), owners.map((d) => d.removed)],
    );
  }
}

/** `topic_subscriptions`: removed users' rows, then the subscriptions, then the unsubscriptions. */
async function writeSubscriptions(tx: EntityManager, { removedUsers, subscribed, unsubscribed }: Changes): Promise<void> {
  if (removedUsers.length > 0) {
    await tx.query(`DELETE FROM topic_subscriptions WHERE user_id = ANY($1::varchar[])`, [removedUsers]);
  }
  if (subscribed.length > 0) {
    await tx.query(
      `INSERT INTO topic_subscriptions (topic, user_id)
       SELECT * FROM unnest($1::varchar[], $2::varchar[]) ON CONFLICT DO NOTHING`,
      [subscribed.map((s) => s.topic), subscribed.map((s) => s.userId)],
    );
  }
  if (unsubscribed.length > 0) {
    await tx.query(
      `DELETE FROM topic_subscriptions t USING unnest($1::varchar[], $2::varchar[]) AS r(topic, user_id)
        WHERE t.topic = r.topic AND t.user_id = r.user_id`,
      [unsubscribed.map((s) => s.topic), unsubscribed.map((s) => s.userId)],
    );
  }
}

/**
 * `removed_users`: when each removed user was removed (a removal again moves it), for partition
 * maintenance to forget their inbox numbers once retention has taken their inbox. A user the batch
 * writes again after the removal (a contact field, a device, a subscription) is back: their row goes.
 */
async function writeRemovals(tx: EntityManager, { removedUsers, upserts, registered, subscribed }: Changes): Promise<void> {
  if (removedUsers.length > 0) {
    await tx.query(
      `INSERT INTO removed_users (user_id) SELECT * FROM unnest($1::varchar[])
       ON CONFLICT (user_id) DO UPDATE SET removed_at = now()`,
      [removedUsers],
    );
  }
  const back = [...new Set([...upserts, ...registered, ...subscribed].map((update) => update.userId))];
  if (back.length > 0) await tx.query(`DELETE FROM removed_users WHERE user_id = ANY($1::varchar[])`, [back]);
}

/**
 * Takes the token locks of a batch's registrations (`writeTokens`). One registration of a token at a
 * time, whatever the user: the check that follows in `writeDevices` must see the other's row. Also
 * the tokens the registered devices hold now: two registrations swapping two devices' tokens take
 * different buckets otherwise, and each one's deactivation in `writeDevices` waits for the device
 * row the other has just written (a deadlock). All in one statement, in the buckets' order.
 *
 * A device's token can change between the read and the lock (a registration of it committing), so
 * it is read again once they are held. Only a registration of the device changes it, and that one
 * holds the bucket of the token it read: once the second read needs no other bucket, the tokens
 * stay as read until commit. Should it need one, the locks are let go (back to the savepoint) and
 * all of them taken again in order: taking the missing one alone, out of order, could deadlock.
 */
async function lockTokenBuckets(tx: EntityManager, owners: TimedDevice[], registered: TimedDevice[]): Promise<void> {
  await tx.query('SAVEPOINT token_locks');
  for (let held: number[] = []; ; ) {
    const wanted = await queryRows<{ k: number }>(
      tx,
      `SELECT ${tokenBucket('r.p', 'r.t')} AS k FROM unnest($1::varchar[], $2::varchar[]) AS r(p, t)
       UNION SELECT ${tokenBucket('d.provider', 'd.token')} FROM devices d
               JOIN unnest($3::varchar[], $4::varchar[]) AS r(user_id, device_id) ON d.user_id = r.user_id AND d.device_id = r.device_id
       UNION SELECT unnest($5::int[])`,
      [owners.map((d) => d.provider), owners.map((d) => d.token), registered.map((d) => d.userId), registered.map((d) => d.deviceId), held],
    );
    // `wanted` includes `held`: as many buckets means the same ones.
    if (wanted.length === held.length) break;
    if (held.length > 0) await tx.query('ROLLBACK TO SAVEPOINT token_locks');
    held = wanted.map((w) => w.k);
    await tx.query(`SELECT pg_advisory_xact_lock(${TOKEN_LOCK}, k) FROM (SELECT k FROM unnest($1::int[]) AS k ORDER BY 1) AS keys`, [held]);
  }
  await tx.query('RELEASE SAVEPOINT token_locks');
}

/** The SQL for the lock bucket of a push token, given the SQL of its provider and of the token. */
function tokenBucket(provider: string, token: string): string {
  return `hashtext(${provider} || ':' || ${token}) & ${TOKEN_LOCK_BUCKETS - 1}`;
}

/** An upsert as the fields it changes: those it gives, and null for those it clears. */
function profileOf(update: Upsert): Profile {
  const cleared = Object.fromEntries((update.clear ?? []).map((field) => [field, null]));
  const { op: _op, clear: _clear, ...given } = update;
  return { ...definedFields(given), ...cleared, userId: update.userId };
}

function definedFields<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
