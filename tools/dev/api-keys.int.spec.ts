import { randomBytes } from 'node:crypto';
import { main } from './api-keys';

interface Run {
  code: number;
  out: string[];
  err: string;
}

async function apiKeys(...args: string[]): Promise<Run> {
  const run = { out: '', err: '' };
  const code = await main(args, { write: (text: string) => (run.out += text) }, { write: (text: string) => (run.err += text) });
  return { code, out: run.out.split('\n').filter((line) => line !== ''), err: run.err };
}

const ISO_TIME = '\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z';
const ID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** The record an operator keeps of the keys made and revoked: one line each, with name, id, scopes and time, never the key. */
describe('npm run api-keys', () => {
  it('prints one line with the name, id, scopes and time of a key it creates, then the key alone, and one such line without the key when it revokes it', async () => {
    const name = `audit-tool-${randomBytes(4).toString('hex')}`;
    const created = await apiKeys('create', name, '--scopes', 'recipients,query');
    expect(created).toMatchObject({ code: 0, err: '' });
    expect(created.out).toHaveLength(2);
    const [line, key] = created.out as [string, string];
    expect(key).toMatch(/^nq_[A-Za-z0-9_-]{43}$/);
    expect(line).toMatch(new RegExp(`^created API key "${name}" \\((${ID})\\) with scopes query,recipients at (${ISO_TIME}); it is shown only now:$`));
    const [, id, createdAt] = new RegExp(`\\((${ID})\\).* at (${ISO_TIME})`).exec(line)!;

    const revoked = await apiKeys('revoke', name);
    expect(revoked).toMatchObject({ code: 0, err: '' });
    expect(revoked.out).toHaveLength(1);
    expect(revoked.out[0]).toMatch(new RegExp(`^revoked API key "${name}" \\(${id}\\) with scopes query,recipients at ${ISO_TIME}$`));
    expect(revoked.out[0]).not.toContain(key);
    const revokedAt = /at (\S+)$/.exec(revoked.out[0]!)![1]!;
    expect(Date.parse(revokedAt)).toBeGreaterThanOrEqual(Date.parse(createdAt!));
  });

  it('says what is wrong, with the usage, and exits 1 on a bad command', async () => {
    const run = await apiKeys('create', 'bad', '--scopes', 'admin');
    expect(run.code).toBe(1);
    expect(run.out).toEqual([]);
    expect(run.err).toContain('unknown scope(s) admin');
    expect(run.err).toContain('usage: npm run api-keys');
  });
});
