import { EventEmitter } from 'node:events';
import { createAdapter } from '@socket.io/postgres-adapter';
import type { Pool } from 'pg';
import { Server } from 'socket.io';
import { createLogger } from '@notify/observability';
import { eventually } from '@notify/testing';
import { listeningPool } from './listening-pool';

/** A pg client as the adapter uses it; the first one's connection dies while it sets up its LISTEN. */
class FakeClient extends EventEmitter {
  released = false;
  constructor(private readonly dies: boolean) {
    super();
  }
  async query(sql: string): Promise<{ rows: unknown[] }> {
    if (this.dies && sql.startsWith('LISTEN')) {
      this.emit('error', new Error('Connection terminated unexpectedly'));
      this.emit('end');
      throw new Error('Connection terminated unexpectedly');
    }
    return { rows: [] };
  }
  // pg gives each checkout a release of its own (a closure, not a method).
  release = (): void => {
    this.released = true;
  };
}

describe('listeningPool', () => {
  it('keeps one LISTEN connection after one died while the adapter set it up', async () => {
    const clients: FakeClient[] = [];
    const pool = {
      connect: async () => {
        const client = new FakeClient(clients.length === 0);
        clients.push(client);
        return client;
      },
      query: async () => ({ rows: [] }),
    } as unknown as Pool;
    const io = new Server();
    io.adapter(createAdapter(listeningPool(pool, createLogger('listening-pool-spec', 'silent')), { errorHandler: () => undefined }));
    const namespace = io.of('/realtime');
    try {
      // The adapter reconnects 1 to 3 s after a loss; twice, had it two connections to set up.
      await eventually(async () => clients.length, (n) => n >= 2, { timeoutMs: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 3_500));
      const live = clients.filter((client) => !client.released);
      expect(live).toHaveLength(1);
      expect(clients).toHaveLength(2);
    } finally {
      // A server never attached to HTTP has no engine to close; its adapter's client is closed here.
      await namespace.adapter.close();
    }
  });
});
