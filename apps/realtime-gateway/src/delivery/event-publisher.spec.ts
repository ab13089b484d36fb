import { keptErrors } from '@notify/testing';
import { gatedProducer, instantRetry, outcomeEvent, publishedEvents } from '../testing/doubles';
import { EventPublisher } from './event-publisher';

const SPEC = 'event-publisher-spec';

const events = (...ids: string[]) => ids.map((id) => outcomeEvent(id, 'delivered'));

describe('EventPublisher', () => {
  it('sends what was handed over during a produce in one produce after it, in order', async () => {
    const kafka = gatedProducer();
    const publisher = new EventPublisher(kafka.producer, keptErrors(SPEC).logger, instantRetry(3));

    publisher.publish(events('a'), 'test');
    publisher.publish(events('b'), 'test');
    publisher.publish(events('c', 'd'), 'test');
    kafka.open();
    await publisher.settled();

    expect(kafka.calls()).toBe(2);
    expect(publishedEvents(kafka.accepted).map((e) => e.deliveryId)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('holds at most maxHeld events while the broker is away, the one in flight included, and logs what it drops once per period and when it is done', async () => {
    const kafka = gatedProducer();
    const log = keptErrors(SPEC);
    const publisher = new EventPublisher(kafka.producer, log.logger, instantRetry(3), { maxHeld: 2, drainTimeoutMs: 60_000, dropLogEveryMs: 60_000 });

    publisher.publish(events('a'), 'test'); // in the produce call waiting for the broker
    publisher.publish(events('b'), 'test');
    publisher.publish(events('c', 'd'), 'recording acknowledgements');
    publisher.publish(events('e'), 'recording reads');
    kafka.open();
    await publisher.settled();

    expect(publishedEvents(kafka.accepted).map((e) => e.deliveryId)).toEqual(['a', 'b']);
    expect(log.lines.map((l) => [l.count, l.bySource, l.msg])).toEqual([
      [2, { 'recording acknowledgements': 2 }, 'outcome events dropped: 2 already wait for the broker'],
      [1, { 'recording reads': 1 }, 'outcome events dropped: 2 already wait for the broker'],
    ]);
  });

  it('waits at shutdown for a write still running, then for its events', async () => {
    const kafka = gatedProducer();
    const publisher = new EventPublisher(kafka.producer, keptErrors(SPEC).logger, instantRetry(3));
    let finishWrite!: (ids: string[]) => void;
    void publisher.track(new Promise<string[]>((resolve) => (finishWrite = resolve)), 'recording reads', (ids) => events(...ids));

    const settled = publisher.settled();
    finishWrite(['r1', 'r2']);
    kafka.open();
    await settled;

    expect(publishedEvents(kafka.accepted).map((e) => e.deliveryId)).toEqual(['r1', 'r2']);
  });

  it('stops waiting at shutdown after its time, and says how many events were left', async () => {
    const kafka = gatedProducer();
    const log = keptErrors(SPEC);
    const publisher = new EventPublisher(kafka.producer, log.logger, instantRetry(3), { maxHeld: 100, drainTimeoutMs: 10, dropLogEveryMs: 0 });

    publisher.publish(events('a'), 'test');
    publisher.publish(events('b', 'c'), 'test');
    await publisher.settled();

    expect(kafka.accepted).toEqual([]);
    expect(log.lines.map((l) => [l.count, l.msg])).toEqual([[3, 'shutting down with events not yet published on notify.events']]);
  });

  it('refuses a limit that could hold nothing', () => {
    expect(() => new EventPublisher(gatedProducer().producer, keptErrors(SPEC).logger, instantRetry(3), { maxHeld: 0, drainTimeoutMs: 10, dropLogEveryMs: 0 })).toThrow(
      'maxHeld must be at least 1',
    );
  });
});
