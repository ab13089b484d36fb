import type { Producer } from 'kafkajs';
import { createLogger, Metrics } from '@notify/observability';
import type { FallbackStore } from '@notify/persistence';
import { ReleasePoller } from './release-poller';

describe('ReleasePoller giving up', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('gives up once the look for stranded tiers has failed for 10 minutes, though the releases go on', async () => {
    const fatal: Error[] = [];
    const store = {
      releaseDue: async () => ({ jobs: [], expired: [], taken: 0 }),
      releaseStranded: async () => {
        throw new Error('canceling statement due to statement timeout');
      },
    };
    const poller = new ReleasePoller(
      store as unknown as FallbackStore,
      {} as Producer,
      { pollIntervalMs: 5_000, releaseBatchSize: 100 },
      () => new Date('2030-07-01T12:00:00Z'),
      createLogger('release-poller-spec', 'silent'),
      new Metrics('release-poller-spec'),
      undefined,
      (err) => fatal.push(err),
    );
    poller.onApplicationBootstrap();
    try {
      await jest.advanceTimersByTimeAsync(600_000);
      expect(fatal).toEqual([]);
      await jest.advanceTimersByTimeAsync(120_000);
      expect(fatal.map((err) => [err.message, String(err.cause)])).toEqual([
        ['stranded tier polls have failed for 600000 ms; giving up', 'Error: canceling statement due to statement timeout'],
      ]);
    } finally {
      await poller.onApplicationShutdown();
    }
  });
});
