import type { Producer } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { createLogger, Metrics } from '@notify/observability';
import { OutboxRelay } from './outbox-relay';

/** A database gone: every use of it fails. */
const unreachable = new Proxy(
  {},
  {
    get: () => {
      throw new Error('connect ECONNREFUSED');
    },
  },
) as DataSource;

describe('OutboxRelay', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('gives up, as the other polls do, once its polls have failed for 10 minutes', async () => {
    const fatal: Error[] = [];
    const relay = new OutboxRelay(
      unreachable,
      {} as Producer,
      { pollIntervalMs: 5_000, outboxRelayAfterMs: 900_000 },
      createLogger('outbox-relay-spec', 'silent'),
      new Metrics('outbox-relay-spec'),
      undefined,
      (err) => fatal.push(err),
    );
    relay.onApplicationBootstrap();
    try {
      await jest.advanceTimersByTimeAsync(590_000);
      expect(fatal).toEqual([]);
      await jest.advanceTimersByTimeAsync(20_000);
      expect(fatal.map((err) => err.message)).toEqual(['outbox relay polls have failed for 600000 ms; giving up']);
    } finally {
      await relay.onApplicationShutdown();
    }
  });
});
