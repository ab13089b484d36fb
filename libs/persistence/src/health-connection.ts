import { Client, type Pool } from 'pg';

/** As long as the health registry waits for a check. */
const CHECK_MS = 2_000;

/**
 * The `postgres` health check's own connection, made with the pool's settings. On a pooled
 * connection the check waited behind the app's own statements: with every connection busy for
 * longer than the check's 2 s (a burst of slow queries), the app was reported down, and restarted
 * by its liveness probe, while PostgreSQL was fine. A connection that fails is ended, and another
 * is opened; when none can be, the check asks through the pool, as before. So an app holds one
 * connection more than its pool's size.
 */
export class HealthConnection {
  private client?: Promise<Client>;

  constructor(private readonly pool: Pool) {}

  async check(): Promise<void> {
    const reused = this.client !== undefined;
    try {
      return await this.selectOne();
    } catch {
      // The connection kept since the last check may be one a restart of PostgreSQL has ended: a new one answers for the server.
    }
    if (reused) {
      try {
        return await this.selectOne();
      } catch {
        // No connection of its own to be had, below.
      }
    }
    // None of its own to be had (the server's or the role's connection limit is reached): the pool's answer counts.
    await this.pool.query('SELECT 1');
  }

  private async selectOne(): Promise<void> {
    const client = (this.client ??= this.connect());
    try {
      await (await client).query('SELECT 1');
    } catch (error) {
      this.drop(client);
      throw error;
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.then((c) => c.end()).catch(() => undefined);
  }

  private async connect(): Promise<Client> {
    // Bounded as the check is, so a connection that hangs is ended instead of queueing the next checks.
    const client = new Client({ ...this.pool.options, connectionTimeoutMillis: CHECK_MS, query_timeout: CHECK_MS });
    const connecting = client.connect().then(() => client);
    // A connection lost between checks is noticed by the next one's query.
    client.on('error', () => undefined);
    return connecting;
  }

  private drop(client: Promise<Client>): void {
    if (this.client === client) this.client = undefined;
    void client.then((c) => c.end()).catch(() => undefined);
  }
}
