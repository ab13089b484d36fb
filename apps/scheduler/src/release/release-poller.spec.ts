import type { Producer, ProducerBatch } from 'kafkajs';
import { createLogger, Metrics } from '@notify/observability';
import type { FallbackStore } from '@notify/persistence';
import { ReleasePoller } from './release-poller';

/** A backlog of held deliveries larger than anything a shutdown should wait for. */
describe('ReleasePoller shutdown', () => {
  it('stops releasing after the batch in hand when the app shuts down, though more is due', async () => {
    let batches = 0;
    const job = { deliveryId: 'd', requestId: 'r', userId: 'u', channel: 'push', message: {} };
    // Every batch is full: the backlog never ends.
    const store = {
      releaseDue: async (_now: Date, limit: number) => {
        batches += 1;
        await new Promise((resolve) => setImmediate(resolve));
        return { jobs: Array.from({ length: limit }, () => job), expired: [] };
      },
    } as unknown as FallbackStore;
    const producer = { sendBatch: async (_: ProducerBatch) => [] } as unknown as Producer;
    const poller = new ReleasePoller(
      store,
      producer,
      { pollIntervalMs: 10, releaseBatchSize: 2 },
      () => new Date('2030-07-01T12:00:00Z'),
      createLogger('release-poller-spec', 'silent'),
      new Metrics('release-poller-spec'),
    );
    poller.onApplicationBootstrap();
    while (batches < 3) await new Promise((resolve) => setTimeout(resolve, 5));

    await poller.onApplicationShutdown();
    const atStop = batches;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(batches).toBe(atStop);
  });
});
