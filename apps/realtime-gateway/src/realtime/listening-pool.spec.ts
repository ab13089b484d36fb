import { EventEmitter } from 'node:events';
import { createAdapter } from '@socket.io/postgres-adapter';
import type { Pool } from 'pg';
import { Server } from 'socket.io';
import { createLogger } from '@notify/observability';
import { eventually } from '@notify/testing';
import { listeningPool } from './listening-pool';
import { CLUSTER_SILENT_MS, clusterCheck } from './realtime-server';

/**
 * A pg client as the adapter uses it; a first one that `dies` loses its connection while the adapter
 * sets up its LISTEN, one that `refuses` has its LISTEN refused and stays connected (a server in recovery).
 */
class FakeClient extends EventEmitter {
  released = false;
  constructor(private readonly dies: boolean | 'refuses') {
    super();
  }
  async query(sql: string): Promise<{ rows: unknown[] }> {
    if (this.dies === 'refuses' && sql.startsWith('LISTEN')) throw new Error('cannot execute LISTEN during recovery');
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

/**
 * The cluster adapter of a Socket.IO server on a listening pool over a fake pool whose connections
 * `nextClient` makes, and the clients it made. A server never attached to HTTP has no engine to
 * close: `closeAdapters` closes its adapters' client.
 */
function adapterOver(nextClient: (made: number) => FakeClient) {
  const clients: FakeClient[] = [];
  const pool = {
    connect: async () => {
      const client = nextClient(clients.length);
      clients.push(client);
      return client;
    },
    query: async () => ({ rows: [] }),
  } as unknown as Pool;
  const io = new Server();
  const listening = listeningPool(pool, createLogger('listening-pool-spec', 'silent'));
  io.adapter(createAdapter(listening, { errorHandler: () => undefined }));
  const namespace = io.of('/realtime');
  const closeAdapters = () => Promise.all([io.of('/'), namespace].map((n) => n.adapter.close()));
  return { clients, listening, closeAdapters };
}

/** Timers moved on by hand (`jest.advanceTimersByTime`): the adapter reconnects 1 to 3 s after a loss, at random. */
const useFakeTimers = () => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
/** Lets the promises the timers started run their course. */
const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('listeningPool', () => {
  afterEach(() => jest.useRealTimers());

  it('keeps one LISTEN connection after one died while the adapter set it up', async () => {
    useFakeTimers();
    const { clients, listening, closeAdapters } = adapterOver((made) => new FakeClient(made === 0));
    try {
      await settle();
      // The adapter reconnects 1 to 3 s after a loss; twice, had it two connections to set up.
      for (let round = 1; round <= 2; round++) {
        jest.advanceTimersByTime(3_000);
        await settle();
      }
      const live = clients.filter((client) => !client.released);
      expect(live).toHaveLength(1);
      expect(clients).toHaveLength(2);
      // Listening again after a loss: the other gateways may take up to the adapter's delay longer.
      expect(listening.listening(Date.now())).toBeDefined();
      expect(listening.lostOne()).toBe(true);

      // As the gateway shuts down: the second reconnection, still waiting, takes no connection that
      // nobody would give back (the pool's end would wait for it for ever).
      listening.close();
      await closeAdapters();
      jest.advanceTimersByTime(3_000);
      await settle();
      expect(clients.map((client) => client.released)).toEqual([true, true]);
    } finally {
      await closeAdapters();
    }
  });

  it('has lost no LISTEN connection while its first one listens', async () => {
    const { listening, closeAdapters } = adapterOver(() => new FakeClient(false));
    try {
      await eventually(async () => listening.listening(Date.now()), (heard) => heard !== undefined);
      expect(listening.lostOne()).toBe(false);
    } finally {
      listening.close();
      await closeAdapters();
    }
  });

  it('gives back connections whose LISTEN was refused, one reconnection each, and listens on the next one', async () => {
    // The adapter reconnects 1 to 3 s after a failure: moved on by hand, round by round.
    useFakeTimers();
    let recovering = true;
    const { clients, listening, closeAdapters } = adapterOver(() => {
      const client = new FakeClient(recovering ? 'refuses' : false);
      // pg closes a connection given back with an error: the adapter hears its `end`.
      const release = client.release;
      client.release = () => (release(), void client.emit('end'));
      return client;
    });
    try {
      const started = Date.now();
      await settle();
      for (let round = 1; round <= 4; round++) {
        jest.advanceTimersByTime(3_000);
        await settle();
      }
      // One connection per refusal and round, not twice as many at each refusal.
      expect(clients).toHaveLength(5);
      // Silent all along, for health to tell (a server in recovery still answers SELECT 1).
      expect(listening.silentFor(Date.now())).toBeGreaterThanOrEqual(Date.now() - started);
      recovering = false;
      jest.advanceTimersByTime(3_000);
      await settle();
      expect(listening.listening(Date.now())).toBeDefined();
      expect(listening.silentFor(Date.now())).toBeUndefined();
      expect(listening.lostOne()).toBe(true);
      expect(clients.filter((client) => !client.released)).toHaveLength(1);
    } finally {
      listening.close();
      await closeAdapters();
    }
  });
});

describe('clusterCheck', () => {
  it('is down once the pool has had no LISTEN for more than CLUSTER_SILENT_MS, and up before that and while it listens', async () => {
    let silentMs: number | undefined = CLUSTER_SILENT_MS;
    const check = clusterCheck({ silentFor: () => silentMs });
    await expect(check()).resolves.toBeUndefined();
    silentMs = CLUSTER_SILENT_MS + 1;
    await expect(check()).rejects.toThrow(/no LISTEN for/);
    silentMs = undefined;
    await expect(check()).resolves.toBeUndefined();
  });
});
