import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Each migration as it was committed: the first 16 hex digits of its file's SHA-256. An installation
 * records a migration by name once it has run it, and the start check (`requireMigrations`) compares
 * names only, so an edit to a committed migration never reaches a database that ran it before: one
 * that ran an early `event_outbox` or `waiting_receipts` kept the early table, and the apps started
 * and failed on every statement that read the later columns. A change of schema is a new migration.
 * A migration added is added here, with its hash.
 */
const COMMITTED: Record<string, string> = {
  '1763600000000-initial-schema.ts': '0d366c5e0d797029',
  '1763600000001-recipients.ts': '1fb80d9065e0fcb6',
  '1763600000002-socket-io-attachments.ts': 'eff48a5e7cecc952',
  '1763600000010-api-keys.ts': 'db83288924108bb7',
  '1763600000011-delivery-stats.ts': 'a2668b8970c6e3a9',
  '1763600000012-query-api-role.ts': '974b89886d24891b',
  '1763600000013-delivery-stats-slots.ts': 'baf591c9bf7252a1',
  '1763600000014-leased-deliveries.ts': '11749baba5214f0e',
  '1763600000015-json-rows.ts': '1102eb59f5e2922c',
  '1763600000016-delivery-stats-retries.ts': 'd1a9c3e8aeeac7d0',
  '1763600000017-delivery-target-per-user.ts': '3058810f2c967ba5',
  '1763600000018-daily-stats-by-day.ts': 'c9c3138da6118a1c',
  '1763600000019-given-back-retries.ts': 'a04fd62e8ce27370',
  '1763600000020-pending-by-receiver.ts': '738294f981431521',
  '1763600000021-device-registration-time.ts': '511e118af623ad09',
  '1763600000022-failed-awaiting-schedule.ts': 'a241a72cf04cad05',
  '1763600000023-inbox-read-sequence.ts': '27c9dc644be355f9',
  '1763600000024-event-outbox.ts': 'f45423e4757cb9ed',
  '1763600000025-receipt-keys.ts': '3cf8ea1f137f4490',
  '1763600000026-held-due.ts': '5eae89bc2719bbcc',
  '1763600000027-inactive-devices.ts': 'b266e56520e167ce',
  '1763600000028-migrations-readable.ts': '74d5c6787de0f445',
  '1763600000029-unfinished-requests.ts': '71dcade99b6f7303',
  '1763600000030-removed-users.ts': '8da149a4df38b10e',
};

/** A file's hash as `COMMITTED` has it, line endings taken as LF (a checkout may turn them to CRLF). */
function hashOf(path: string): string {
  return createHash('sha256').update(readFileSync(path, 'utf8').replace(/\r\n/g, '\n')).digest('hex').slice(0, 16);
}

describe('committed migrations', () => {
  const files = readdirSync(__dirname).filter((name) => /^\d+-[\w-]+\.ts$/.test(name));

  it('are never edited: a change of schema is a new migration', () => {
    const edited = files.filter((name) => COMMITTED[name] !== undefined && COMMITTED[name] !== hashOf(join(__dirname, name)));
    expect(edited).toEqual([]);
  });

  it('are each listed with their hash, and none listed is gone', () => {
    expect(files.filter((name) => COMMITTED[name] === undefined)).toEqual([]);
    expect(Object.keys(COMMITTED).filter((name) => !files.includes(name))).toEqual([]);
  });
});
