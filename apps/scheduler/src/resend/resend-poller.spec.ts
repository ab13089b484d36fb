import type { Producer, ProducerBatch } from 'kafkajs';
import { createLogger, Metrics } from '@notify/observability';
import { Topics } from '@notify/contracts';
import type { AfterCommitRetry, ClaimedResends, ResendStore } from '@notify/persistence';
import { ResendPoller } from './resend-poller';

const INTERVAL_MS = 60_000;

const resendPoller = (store: ResendStore, producer: Producer, retry?: AfterCommitRetry) =>
  new ResendPoller(
    store,
    producer,
    { pollIntervalMs: INTERVAL_MS, resendLeaseMs: 60_000, resendReceiversPerClaim: 10 },
    () => new Date('2030-07-01T12:00:00Z'),
    () => 0.5,
    createLogger('resend-poller-spec', 'silent'),
    new Metrics('resend-poller-spec'),
    retry,
  );

/**
 * When the poller polls: a store that has `cutShort` claims of one job each waiting (each says its
 * bound stopped it), then nothing. Timers are Jest's, so an interval is a step, not a wait.
 */
describe('ResendPoller timing', () => {
  let claims: number;
  let poller: ResendPoller;

  function start(cutShort: number, onClaim: () => void = () => undefined): void {
    claims = 0;
    const job = { deliveryId: 'd', requestId: 'r', userId: 'u', channel: 'websocket', message: {} };
    const store = {
      failUnanswered: async () => [],
      scheduleFailed: async () => ({ taken: 0, ended: [] }),
      claimDue: async (): Promise<ClaimedResends> => {
        claims += 1;
        onClaim();
        if (claims > cutShort) return { batches: [], ended: [], cutShort: false };
        return { batches: [{ userId: 'u', channel: 'websocket', digest: false, jobs: [job as never] }], ended: [], cutShort: true };
      },
    } as unknown as ResendStore;
    const producer = { sendBatch: async (_: ProducerBatch) => [] } as unknown as Producer;
    poller = resendPoller(store, producer);
    poller.onApplicationBootstrap();
  }

  beforeEach(() => jest.useFakeTimers());
  afterEach(async () => {
    await poller.onApplicationShutdown();
    jest.useRealTimers();
  });

  it('polls again at once when a poll’s last claim was cut short by its bound, then waits the interval', async () => {
    // 20 claims make a poll; 30 cut-short claims are more than one poll takes.
    start(30);
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    await jest.advanceTimersByTimeAsync(1);
    // The second poll took the last 10 and one that found nothing, without waiting for the interval.
    expect(claims).toBe(31);
    await jest.advanceTimersByTimeAsync(INTERVAL_MS - 2);
    expect(claims).toBe(31);
    await jest.advanceTimersByTimeAsync(2);
    expect(claims).toBe(32);
  });

  it('waits the interval after a poll that claimed everything due', async () => {
    start(5);
    await jest.advanceTimersByTimeAsync(INTERVAL_MS + 1);
    expect(claims).toBe(6);
    await jest.advanceTimersByTimeAsync(INTERVAL_MS - 2);
    expect(claims).toBe(6);
  });

  it('ends its poll after the claim in hand when the app shuts down, though more is due', async () => {
    let stopping: Promise<void> | undefined;
    start(1_000, () => {
      // SIGTERM arrives while the third claim of the poll is being produced.
      if (claims === 3) stopping = poller.onApplicationShutdown();
    });
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    await stopping;
    await jest.advanceTimersByTimeAsync(10 * INTERVAL_MS);
    // A poll takes 20 claims; this one ended after the third, and none followed.
    expect(claims).toBe(3);
  });
});

/** What a claim ended (dead, expired) is published even when its jobs cannot be produced. */
describe('ResendPoller and a delivery topic that refuses every produce', () => {
  it('publishes the claim’s ended deliveries before its batches, so a failing topic does not lose them', async () => {
    const job = { deliveryId: 'd', requestId: 'r', userId: 'u', channel: 'push', message: {} };
    const ended = { requestId: 'r', messageId: 'm', deliveryId: 'd-dead', userId: 'u', channel: 'push', status: 'dead', error: 'unavailable', attempt: 5, at: '2030-07-01T12:00:00.000Z' };
    let claims = 0;
    const store = {
      failUnanswered: async () => [],
      scheduleFailed: async () => ({ taken: 0, ended: [] }),
      claimDue: async () => (claims++ === 0 ? { batches: [{ userId: 'u', channel: 'push', digest: false, jobs: [job] }], ended: [ended], cutShort: false } : { batches: [], ended: [], cutShort: false }),
    } as unknown as ResendStore;
    const published: string[] = [];
    const producer = {
      sendBatch: async (batch: ProducerBatch) => {
        const topics = batch.topicMessages!.map((t) => t.topic);
        if (topics.some((topic) => topic !== Topics.events)) throw new Error('no leader for the partition');
        published.push(...batch.topicMessages!.flatMap((t) => t.messages.map((m) => String(m.value))));
        return [];
      },
    } as unknown as Producer;
    const noWaits: AfterCommitRetry = { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1, sleep: async () => undefined, random: () => 0 };
    const poller = resendPoller(store, producer, noWaits);

    await expect(poller.poll()).rejects.toThrow('no leader for the partition');
    expect(published.map((value) => JSON.parse(value).deliveryId)).toEqual(['d-dead']);
  });
});
