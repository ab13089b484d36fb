import 'reflect-metadata';
import { databaseSettings, loadConfig } from '@notify/config';
import { API_KEY_SCOPES, ApiKeyStore, createDataSource, type ApiKeyRecord, type ApiKeyScope } from '@notify/persistence';

const USAGE = `usage: npm run api-keys -- <command>
  create <name> [--scopes query,recipients]   issue a key (default: every scope); the key is printed once
  revoke <name|id>                            revoke the active key with that name or id
  list                                        every key: id, name, scopes, created, revoked (never the key)
The database is DATABASE_URL.`;

class UsageError extends Error {}

/** Where the tool writes: stdout and stderr, or a test's capture. */
interface Output {
  write(text: string): unknown;
}

/**
 * `npm run api-keys -- create|revoke|list`: manages the query API's keys in DATABASE_URL. Returns the
 * exit code. `create` and `revoke` each print one line with the key's name, id, scopes and the time
 * (never the key but on the line after `create`'s): keys live in the database alone, and after a
 * restore to an earlier time that line is the record of what to do again.
 */
export async function main(args: string[], out: Output = process.stdout, errors: Output = process.stderr): Promise<number> {
  try {
    await run(args, (line) => void out.write(`${line}\n`));
    return 0;
  } catch (error) {
    errors.write(`${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof UsageError) errors.write(`${USAGE}\n`);
    return 1;
  }
}

async function run(args: string[], say: (line: string) => void): Promise<void> {
  const [command, ...rest] = args;
  if (!command || !['create', 'revoke', 'list'].includes(command)) throw new UsageError(`unknown command "${command ?? ''}"`);
  const config = loadConfig('api-keys', databaseSettings);
  const dataSource = await createDataSource({ ...config, databasePoolSize: 1, applicationName: 'api-keys' }).initialize();
  const keys = new ApiKeyStore(dataSource);
  try {
    if (command === 'create') {
      const { name, scopes } = parseCreate(rest);
      const issued = await keys.create(name, scopes);
      say(`created API key "${issued.name}" (${issued.id}) with scopes ${issued.scopes.join(',')} at ${issued.createdAt.toISOString()}; it is shown only now:`);
      say(issued.key);
    } else if (command === 'revoke') {
      if (rest.length !== 1) throw new UsageError('revoke takes one name or id');
      const revoked = await keys.revoke(rest[0]!);
      if (!revoked) throw new Error(`no active API key named or with id "${rest[0]}"`);
      say(`revoked API key "${revoked.name}" (${revoked.id}) with scopes ${revoked.scopes.join(',')} at ${revoked.revokedAt!.toISOString()}`);
    } else {
      for (const key of await keys.list()) say(describe(key));
    }
  } finally {
    await dataSource.destroy();
  }
}

function parseCreate(args: string[]): { name: string; scopes: ApiKeyScope[] } {
  const [name, flag, value, ...extra] = args;
  if (!name || name.startsWith('--') || name.length > 128) throw new UsageError('create needs a name of 1 to 128 characters');
  if (extra.length > 0 || (flag !== undefined && flag !== '--scopes') || (flag && !value)) throw new UsageError('create takes a name and optionally --scopes');
  if (!value) return { name, scopes: [...API_KEY_SCOPES] };
  const scopes = value.split(',').map((s) => s.trim());
  const unknown = scopes.filter((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0 || scopes.length === 0) throw new UsageError(`unknown scope(s) ${unknown.join(', ')}; scopes are ${API_KEY_SCOPES.join(', ')}`);
  return { name, scopes: scopes as ApiKeyScope[] };
}

function describe(key: ApiKeyRecord): string {
  const revoked = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : 'active';
  return `${key.id}  ${key.name}  ${key.scopes.join(',')}  created ${key.createdAt.toISOString()}  ${revoked}`;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
