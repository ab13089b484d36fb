import type { Producer, ProducerBatch } from 'kafkajs';
import { createLogger, Metrics } from '@notify/observability';
import { deliverTopic, Topics } from '@notify/contracts';
import { type AfterCommitRetry, type FallbackStore } from '@notify/persistence';
import { eventually } from '@notify/testing';
import { ReleasePoller } from './release-poller';

const job = { deliveryId: 'd', requestId: 'r', userId: 'u', channel: 'push', message: {} };
const nothing = { jobs: [], expired: [], taken: 0 };
const poller = (store: object, releaseBatchSize: number, produced: ProducerBatch[] = [], clock = () => new Date('2030-07-01T12:00:00Z')) =>
  new ReleasePoller(
    { releaseStranded: async () => nothing, ...store } as unknown as FallbackStore,
    { sendBatch: async (batch: ProducerBatch) => (produced.push(batch), []) } as unknown as Producer,
    { pollIntervalMs: 60_000, releaseBatchSize },
    clock,
    createLogger('release-poller-spec', 'silent'),
    new Metrics('release-poller-spec'),
  );

describe('ReleasePoller', () => {
  it('goes on while batches come back full, counting the tiers it cancelled, not only those it released', async () => {
    // After a broadcast most due tiers are cancelled (their lower tier delivered): each batch releases few.
    const batches = [
      { jobs: [job], expired: [], taken: 3 },
      { jobs: [], expired: [], taken: 3 },
      { jobs: [job, job], expired: [], taken: 2 },
    ];
    const calls: number[] = [];
    const store = { releaseDue: async (_now: Date, limit: number) => (calls.push(limit), batches.shift()!) };
    const produced: ProducerBatch[] = [];

    const released = await poller(store, 3, produced).releaseDue();

    expect(calls).toEqual([3, 3, 3]);
    expect(released).toBe(3);
    expect(produced.flatMap((batch) => batch.topicMessages!.flatMap((t) => t.messages))).toHaveLength(3);
  });

  it('looks for stranded tiers in a loop of its own: a long look holds up no scheduled send', async () => {
    let finishLook!: () => void;
    const looking = new Promise<void>((resolve) => (finishLook = resolve));
    let looks = 0;
    let due = 0;
    const store = {
      releaseDue: async () => (due++ === 0 ? { jobs: [job], expired: [], taken: 1 } : nothing),
      // Seconds over millions of held tiers: here, until the test lets it finish.
      releaseStranded: async () => (looks++, await looking, { jobs: [job], expired: [], taken: 1 }),
    };
    const produced: ProducerBatch[] = [];
    const releases = new ReleasePoller(
      store as unknown as FallbackStore,
      { sendBatch: async (batch: ProducerBatch) => (produced.push(batch), []) } as unknown as Producer,
      { pollIntervalMs: 10, releaseBatchSize: 10 },
      () => new Date('2030-07-01T12:00:00Z'),
      createLogger('release-poller-spec', 'silent'),
      new Metrics('release-poller-spec'),
    );
    releases.onApplicationBootstrap();
    try {
      // The look has begun soon after start, and the due releases go on while it lasts.
      await eventually(async () => ({ looks, due }), (seen) => seen.looks === 1 && seen.due >= 3);
      expect(produced.flatMap((batch) => batch.topicMessages!.flatMap((t) => t.messages))).toHaveLength(1);
      finishLook();
      await eventually(async () => produced.flatMap((batch) => batch.topicMessages!.flatMap((t) => t.messages)).length, (n) => n === 2);
      // Not again before STRANDED_AFTER_MS.
      expect(looks).toBe(1);
    } finally {
      finishLook();
      await releases.onApplicationShutdown();
    }
  });
});

/** A poller on `producer` that tries each produce call as `retry` says, releasing up to 1,000 at a time. */
const pollerRetrying = (store: object, producer: Producer, retry: AfterCommitRetry) =>
  new ReleasePoller(
    { releaseStranded: async () => nothing, ...store } as unknown as FallbackStore,
    producer,
    { pollIntervalMs: 60_000, releaseBatchSize: 1_000 },
    () => new Date('2030-07-01T12:00:00Z'),
    createLogger('release-poller-spec', 'silent'),
    new Metrics('release-poller-spec'),
    retry,
  );

describe('ReleasePoller and a produce that fails once', () => {
  it('publishes each expired delivery’s event once when the second produce call of a release is tried again', async () => {
    const jobs = Array.from({ length: 300 }, (_, i) => ({ ...job, deliveryId: `d-${i}` }));
    const expired = Array.from({ length: 300 }, (_, i) => ({ requestId: 'r', messageId: 'm', deliveryId: `e-${i}`, userId: 'u', channel: 'push', status: 'expired', error: null, attempt: 0, at: '2030-07-01T12:00:00.000Z' }));
    let releases = 0;
    const store = { releaseDue: async () => (releases++ === 0 ? { jobs, expired, taken: 600 } : nothing) };
    let calls = 0;
    const events: string[] = [];
    const producer = {
      sendBatch: async (batch: ProducerBatch) => {
        if (++calls === 2) throw new Error('broker gone for a moment');
        for (const { topic, messages } of batch.topicMessages!) if (topic === Topics.events) events.push(...messages.map((m) => JSON.parse(String(m.value)).deliveryId));
        return [];
      },
    } as unknown as Producer;
    const noWaits: AfterCommitRetry = { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1, sleep: async () => undefined, random: () => 0 };
    const releasesDue = pollerRetrying(store, producer, noWaits);

    await releasesDue.releaseDue();

    expect(events).toHaveLength(300);
    expect(new Set(events).size).toBe(300);
  });
});

/** A store whose first release brings `job` and the expired delivery `expiredId`, and then nothing. */
function releasingOnce(expiredId: string) {
  const expiredEvent = { requestId: 'r', messageId: 'm', deliveryId: expiredId, userId: 'u', channel: 'sms', status: 'expired', error: null, attempt: 0, at: '2030-07-01T12:00:00.000Z' };
  let releases = 0;
  return { releaseDue: async () => (releases++ === 0 ? { jobs: [job], expired: [expiredEvent], taken: 2 } : nothing) };
}

/** A producer that refuses every call with a topic `refuses` names (no leader), and hands the others' records to `taken`. */
function producerRefusing(refuses: (topic: string) => boolean, taken: (topic: string, values: string[]) => void): Producer {
  return {
    sendBatch: async (batch: ProducerBatch) => {
      const refused = batch.topicMessages!.find(({ topic }) => refuses(topic));
      if (refused) throw new Error(`no leader for ${refused.topic}`);
      for (const { topic, messages } of batch.topicMessages!) taken(topic, messages.map((m) => String(m.value)));
      return [];
    },
  } as unknown as Producer;
}

const twoTries: AfterCommitRetry = { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 1, sleep: async () => undefined, random: () => 0 };

describe('ReleasePoller and a delivery topic that refuses every produce', () => {
  it('publishes the release’s expired events before its jobs (their jobs come back after a lease, the events only from the outbox relay)', async () => {
    const events: string[] = [];
    // notify.deliver.push has no leader; notify.events answers.
    const producer = producerRefusing((topic) => topic !== Topics.events, (_topic, values) => events.push(...values.map((v) => JSON.parse(v).deliveryId)));

    await expect(pollerRetrying(releasingOnce('e-1'), producer, twoTries).releaseDue()).rejects.toThrow('no leader');
    expect(events).toEqual(['e-1']);
  });
});

describe('ReleasePoller and notify.events refusing every produce', () => {
  it('produces the released jobs all the same, leaving the expired events to the outbox relay', async () => {
    const produced: string[] = [];
    const producer = producerRefusing((topic) => topic === Topics.events, (topic) => produced.push(topic));

    await expect(pollerRetrying(releasingOnce('e-2'), producer, twoTries).releaseDue()).resolves.toBe(2);
    expect(produced).toEqual([deliverTopic('push')]);
  });
});

/** A backlog of held deliveries larger than anything a shutdown should wait for. */
describe('ReleasePoller shutdown', () => {
  it('stops releasing after the batch in hand when the app shuts down, though more is due', async () => {
    let batches = 0;
    let stopping: Promise<void> | undefined;
    // Every batch is full: the backlog never ends. The app starts shutting down during the third.
    const store = {
      releaseDue: async (_now: Date, limit: number) => {
        batches += 1;
        if (batches === 3) stopping = releases.onApplicationShutdown();
        return { jobs: Array.from({ length: limit }, () => job), expired: [], taken: limit };
      },
    };
    const releases = poller(store, 2);

    await releases.releaseDue();
    await stopping;

    expect(batches).toBe(3);
  });
});
