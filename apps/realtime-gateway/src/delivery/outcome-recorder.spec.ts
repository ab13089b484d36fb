import { Topics } from '@notify/contracts';
import { createLogger } from '@notify/observability';
import { eventually } from '@notify/testing';
import type { DeliveryOutcome, DeliveryOutcomeStore } from '@notify/persistence';
import { flakyProducer, gatedProducer, instantRetry, outcomeEvent, publishedEvents } from '../testing/doubles';
import { EventPublisher } from './event-publisher';
import { ACKNOWLEDGEMENT_RECORD_RETRY, OutcomeRecorder } from './outcome-recorder';

const logger = createLogger('outcome-recorder-spec', 'silent');

/** A store that refuses its first `failures` writes (PostgreSQL restarting) and keeps what it recorded. */
function flakyStore(failures: number) {
  const recorded: DeliveryOutcome[][] = [];
  let calls = 0;
  const store = {
    record: async (outcomes: DeliveryOutcome[]) => {
      calls += 1;
      if (calls <= failures) throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
      recorded.push(outcomes);
      return outcomes.map((o) => outcomeEvent(o.deliveryId, o.status));
    },
  } as unknown as DeliveryOutcomeStore;
  return { store, recorded, calls: () => calls };
}

/** A store whose database is away until `until` by `clock` (a restart), and keeps what it recorded after. */
function storeAwayUntil(until: number, clock: () => number) {
  const recorded: DeliveryOutcome[][] = [];
  const store = {
    record: async (outcomes: DeliveryOutcome[]) => {
      if (clock() < until) throw Object.assign(new Error('the database system is shutting down'), { code: '57P03' });
      recorded.push(outcomes);
      return outcomes.map((o) => outcomeEvent(o.deliveryId, o.status));
    },
  } as unknown as DeliveryOutcomeStore;
  return { store, recorded };
}

describe('OutcomeRecorder', () => {
  const acknowledged = (deliveryId: string): DeliveryOutcome => ({ deliveryId, status: 'delivered', error: null, attempt: 1 });

  it('publishes the events of recorded outcomes once the broker is back, without recording them again', async () => {
    const db = flakyStore(0);
    const kafka = flakyProducer(2);
    const retry = instantRetry(5);
    const recorder = new OutcomeRecorder(db.store, new EventPublisher(kafka.producer, logger, retry), logger, retry);

    recorder.add(acknowledged('d1'));
    recorder.add(acknowledged('d2'));
    await recorder.onApplicationShutdown();

    expect(db.calls()).toBe(1);
    expect(kafka.calls()).toBe(3);
    expect(retry.waits).toHaveLength(2);
    expect(publishedEvents(kafka.accepted)).toEqual([
      { topic: Topics.events, deliveryId: 'd1', status: 'delivered' },
      { topic: Topics.events, deliveryId: 'd2', status: 'delivered' },
    ]);
  });

  it('writes what came in while a write ran in one write after it, not one write per flush', async () => {
    const recorded: string[][] = [];
    let writes = 0;
    let open!: () => void;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const store = {
      record: async (outcomes: DeliveryOutcome[]) => {
        writes += 1;
        // The first write takes long (a database slow to answer, or restarting).
        if (recorded.length === 0) await opened;
        recorded.push(outcomes.map((o) => o.deliveryId));
        return outcomes.map((o) => outcomeEvent(o.deliveryId, o.status));
      },
    } as unknown as DeliveryOutcomeStore;
    const recorder = new OutcomeRecorder(store, new EventPublisher(flakyProducer(0).producer, logger, instantRetry(3)), logger, instantRetry(3));

    recorder.add(acknowledged('d1'));
    void recorder.flush();
    await eventually(async () => writes, (n) => n === 1);
    for (const id of ['d2', 'd3', 'd4']) {
      recorder.add(acknowledged(id));
      void recorder.flush();
    }
    open();
    await recorder.flush();

    expect(recorded).toEqual([['d1'], ['d2', 'd3', 'd4']]);
  });

  it('records again after PostgreSQL refused, then publishes', async () => {
    const db = flakyStore(1);
    const kafka = flakyProducer(0);
    const recorder = new OutcomeRecorder(db.store, new EventPublisher(kafka.producer, logger, instantRetry(5)), logger, instantRetry(5));

    recorder.add(acknowledged('d1'));
    await recorder.onApplicationShutdown();

    expect(db.recorded).toEqual([[acknowledged('d1')]]);
    expect(publishedEvents(kafka.accepted)).toEqual([{ topic: Topics.events, deliveryId: 'd1', status: 'delivered' }]);
  });

  it('records the last acknowledgements when the database comes back within the shutdown, whatever backoff a write was in', async () => {
    // PostgreSQL restarting as the gateway stops: the first three tries fail, then it answers.
    const db = flakyStore(3);
    const kafka = flakyProducer(0);
    // A backoff that ends only once the shutdown has begun (then every wait is over at once): a write
    // asleep in it is tried again only if the shutdown wakes it.
    let stopping = false;
    const sleep = () => (stopping ? Promise.resolve() : new Promise<void>(() => undefined));
    const backoff = { maxAttempts: 8, initialBackoffMs: 10_000, maxBackoffMs: 30_000, random: () => 0.99, sleep };
    const publisher = new EventPublisher(kafka.producer, logger, instantRetry(3), { maxHeld: 100, drainTimeoutMs: 2_000, dropLogEveryMs: 10_000 });
    const recorder = new OutcomeRecorder(db.store, publisher, logger, backoff);

    // The first write has failed and sleeps its backoff (about 10 s) when the shutdown begins.
    recorder.add(acknowledged('d1'));
    await eventually(async () => db.calls(), (calls) => calls === 1);
    stopping = true;
    await recorder.onApplicationShutdown();

    // Left asleep, the second try came long after the drain time (2 s) ran out.
    expect(db.recorded).toEqual([[acknowledged('d1')]]);
  });

  it('by default tries a write for 90 s, at most 5 s apart: past a database restart of a minute, not long after it ended', async () => {
    // PostgreSQL away for 80 s: the writes fail until then.
    let time = 0;
    const waits: number[] = [];
    const { store, recorded } = storeAwayUntil(80_000, () => time);
    const clock = { random: () => 1, now: () => time, sleep: async (ms: number) => void (waits.push(ms), (time += ms)) };
    const recorder = new OutcomeRecorder(store, new EventPublisher(flakyProducer(0).producer, logger, instantRetry(3)), logger, { ...ACKNOWLEDGEMENT_RECORD_RETRY, ...clock });

    recorder.add(acknowledged('d1'));
    await recorder.flush();

    expect(recorded).toEqual([[acknowledged('d1')]]);
    expect(Math.max(...waits)).toBe(5_000);
    // Recorded within a wait of the database's return.
    expect(time - 80_000).toBeLessThanOrEqual(5_000);
  });

  it('once shutting down, tries a write for the whole drain time, however many tries it made before', async () => {
    // PostgreSQL away for 100 s; the gateway begins to shut down 85 s into it, with the write at its 80th try or so.
    let time = 0;
    let stopping: Promise<void> | undefined;
    const { store, recorded } = storeAwayUntil(100_000, () => time);
    const recorder: OutcomeRecorder = new OutcomeRecorder(store, new EventPublisher(flakyProducer(0).producer, logger, instantRetry(3)), logger, {
      ...ACKNOWLEDGEMENT_RECORD_RETRY,
      random: () => 0.2,
      now: () => time,
      sleep: async (ms) => {
        time += ms;
        if (time >= 85_000 && !stopping) stopping = recorder.onApplicationShutdown();
      },
    });

    recorder.add(acknowledged('d1'));
    await recorder.flush();
    await stopping;

    expect(recorded).toEqual([[acknowledged('d1')]]);
  });

  it('goes on with later acknowledgements after giving up on a group', async () => {
    const db = flakyStore(0);
    const kafka = flakyProducer(3);
    const publisher = new EventPublisher(kafka.producer, logger, instantRetry(3));
    const recorder = new OutcomeRecorder(db.store, publisher, logger, instantRetry(3));

    recorder.add(acknowledged('d1'));
    await recorder.flush();
    await publisher.settled();
    recorder.add(acknowledged('d2'));
    await recorder.onApplicationShutdown();

    expect(db.recorded).toEqual([[acknowledged('d1')], [acknowledged('d2')]]);
    expect(publishedEvents(kafka.accepted)).toEqual([{ topic: Topics.events, deliveryId: 'd2', status: 'delivered' }]);
  });

  it('goes on recording while the broker is away: only the events wait, and go out once it is back', async () => {
    const db = flakyStore(0);
    const kafka = gatedProducer();
    const recorder = new OutcomeRecorder(db.store, new EventPublisher(kafka.producer, logger, instantRetry(5)), logger, instantRetry(5));

    recorder.add(acknowledged('d1'));
    await recorder.flush();
    recorder.add(acknowledged('d2'));
    recorder.add(acknowledged('d3'));
    await recorder.flush();
    expect(db.recorded).toEqual([[acknowledged('d1')], [acknowledged('d2'), acknowledged('d3')]]);
    expect(kafka.accepted).toEqual([]);

    kafka.open();
    await recorder.onApplicationShutdown();
    expect(publishedEvents(kafka.accepted).map((e) => e.deliveryId)).toEqual(['d1', 'd2', 'd3']);
  });
});
