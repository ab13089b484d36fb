import { EventEmitter } from 'node:events';
import { Topics } from '@notify/contracts';
import { createLogger } from '@notify/observability';
import { eventually } from '@notify/testing';
import type { InboxStore } from '@notify/persistence';
import { flakyProducer, instantRetry, outcomeEvent, publishedEvents } from '../testing/doubles';
import { EventPublisher } from '../delivery/event-publisher';
import { busy, MAX_WAITING_REQUESTS } from './client-requests';
import { CLIENT_REQUEST_TIMEOUT_MS, InboxRequests, MAX_UNSENT_PACKETS, UNREAD_GRACE_MS, type NotificationSocket } from './inbox-requests';

const logger = createLogger('inbox-requests-spec', 'silent');

/** A socket of user-1 (or `userId`) that keeps its handlers and what it told the user's other devices. */
function socketOfUser1(userId = 'user-1') {
  const handlers = new Map<string, (payload: unknown, ack: (answer: unknown) => void) => void>();
  const anyListeners: ((event: string, ...args: unknown[]) => void)[] = [];
  const toOtherDevices: unknown[] = [];
  /** Engine.io's connection: what it has not handed the network yet. */
  const conn = Object.assign(new EventEmitter(), { readyState: 'open', writeBuffer: [] as unknown[], transport: { writable: true } });
  const socket = {
    connected: true,
    conn,
    disconnect: () => {
      (socket as { connected: boolean }).connected = false;
      (handlers.get('disconnect') as ((reason: string) => void) | undefined)?.('server namespace disconnect');
    },
    data: { userId, expiresAt: Date.now() + 60_000 },
    on: (event: string, handler: (payload: unknown, ack: (answer: unknown) => void) => void) => handlers.set(event, handler),
    onAny: (listener: (event: string, ...args: unknown[]) => void) => anyListeners.push(listener),
    to: (room: string) => ({ emit: (event: string, payload: unknown) => toOtherDevices.push({ room, event, payload }) }),
  } as unknown as NotificationSocket;
  /** An incoming event as Socket.IO hands it over: to the onAny listeners first, then to the event's own, if any. */
  const receive = (event: string, ...args: unknown[]) => {
    for (const listener of anyListeners) listener(event, ...args);
    (handlers.get(event) as ((...args: unknown[]) => void) | undefined)?.(...args);
  };
  const ask = (event: string, payload: unknown) => new Promise<unknown>((resolve) => receive(event, payload, resolve));
  /** A fire-and-forget emit: no acknowledgement callback, as `socket.emit('read', payload)` sends it. */
  const tell = (event: string, payload: unknown) => receive(event, payload);
  return { socket, ask, tell, receive, toOtherDevices, conn };
}

const inbox = {
  markRead: async (_userId: string, ids: string[]) => ({ read: ids, events: ids.map((id) => outcomeEvent(id, 'read')) }),
} as unknown as InboxStore;

describe('InboxRequests: read', () => {
  it('answers the client once the read is stored, and publishes its events when the broker is back', async () => {
    const kafka = flakyProducer(2);
    const publisher = new EventPublisher(kafka.producer, logger, instantRetry(5));
    const requests = new InboxRequests(inbox, publisher, logger, null, 5);
    const client = socketOfUser1();
    requests.attach(client.socket);

    await expect(client.ask('read', { ids: ['0190a1b2-0000-7000-8000-000000000001'] })).resolves.toEqual({ ok: true });
    expect(client.toOtherDevices).toEqual([{ room: expect.stringContaining('user-1'), event: 'read', payload: { ids: ['0190a1b2-0000-7000-8000-000000000001'] } }]);

    await publisher.settled();
    expect(kafka.calls()).toBe(3);
    expect(publishedEvents(kafka.accepted)).toEqual([{ topic: Topics.events, deliveryId: '0190a1b2-0000-7000-8000-000000000001', status: 'read' }]);
  });

  it('answers ok to a read of no ids, as the contract says every read is answered, and tells no other device', async () => {
    const kafka = flakyProducer(0);
    const requests = new InboxRequests(inbox, new EventPublisher(kafka.producer, logger, instantRetry(3)), logger, null, 5);
    const client = socketOfUser1();
    requests.attach(client.socket);

    await expect(client.ask('read', { ids: [] })).resolves.toEqual({ ok: true });
    expect(client.toOtherDevices).toEqual([]);
    expect(kafka.accepted).toEqual([]);
  });

  it('still answers ok when the events cannot be published at all: the read did count', async () => {
    const kafka = flakyProducer(10);
    const publisher = new EventPublisher(kafka.producer, logger, instantRetry(3));
    const requests = new InboxRequests(inbox, publisher, logger, null, 5);
    const client = socketOfUser1();
    requests.attach(client.socket);

    await expect(client.ask('read', { ids: ['0190a1b2-0000-7000-8000-000000000002'] })).resolves.toEqual({ ok: true });
    await publisher.settled();
    expect(kafka.calls()).toBe(3);
    expect(kafka.accepted).toEqual([]);
  });

  it('marks and tells the other devices when the client sends read without an acknowledgement', async () => {
    const kafka = flakyProducer(0);
    const publisher = new EventPublisher(kafka.producer, logger, instantRetry(3));
    const marked: string[][] = [];
    const recording = { markRead: async (userId: string, ids: string[]) => (marked.push([userId, ...ids]), inbox.markRead(userId, ids)) } as unknown as InboxStore;
    const requests = new InboxRequests(recording, publisher, logger, null, 5);
    const client = socketOfUser1();
    requests.attach(client.socket);

    client.tell('read', { ids: ['0190a1b2-0000-7000-8000-000000000003'] });
    await publisher.settled();
    await new Promise((resolve) => setImmediate(resolve));

    expect(marked).toEqual([['user-1', '0190a1b2-0000-7000-8000-000000000003']]);
    expect(client.toOtherDevices).toEqual([{ room: expect.stringContaining('user-1'), event: 'read', payload: { ids: ['0190a1b2-0000-7000-8000-000000000003'] } }]);
    expect(publishedEvents(kafka.accepted)).toEqual([{ topic: Topics.events, deliveryId: '0190a1b2-0000-7000-8000-000000000003', status: 'read' }]);
  });
});

describe('InboxRequests: a request sent with its callback alone', () => {
  it('answers sync and read sent without a payload with invalid_argument, instead of never', async () => {
    const publisher = new EventPublisher(flakyProducer(0).producer, logger, instantRetry(3));
    const requests = new InboxRequests(inbox, publisher, logger, null, 5);
    const client = socketOfUser1();
    requests.attach(client.socket);
    // socket.emit('sync', callback): Socket.IO hands the callback over as the first argument.
    const callbackOnly = (event: string) => new Promise<unknown>((resolve) => client.tell(event, resolve));
    for (const event of ['sync', 'read']) {
      await expect(callbackOnly(event)).resolves.toEqual({ error: { code: 'invalid_argument', message: expect.stringMatching(/^\(payload\): /) } });
    }
  });
});

describe('InboxRequests: an event it does not handle, and a refusal nobody hears', () => {
  /** Requests whose warnings are kept, as the log would write them. */
  function logged() {
    const lines: Record<string, unknown>[] = [];
    const capture = createLogger('inbox-requests-spec', 'info', { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const requests = new InboxRequests(inbox, new EventPublisher(flakyProducer(0).producer, capture, instantRetry(3)), capture, null, 5);
    const connect = () => {
      const client = socketOfUser1();
      requests.attach(client.socket);
      return client;
    };
    const warnings = () => lines.filter((line) => line['level'] === 40).map(({ event, problem }) => ({ event, problem }));
    return { connect, lines, warnings };
  }

  it('answers an unknown event sent with a callback invalid_argument, naming it and the events there are', async () => {
    const client = logged().connect();
    await expect(client.ask('syncread', { afterReadSeq: 0 })).resolves.toEqual({ error: { code: 'invalid_argument', message: 'syncread: unknown event; sync, syncReads or read' } });
    // emit('markRead', callback): the callback is the last argument, whatever came before it.
    await expect(new Promise((resolve) => client.receive('markRead', resolve))).resolves.toEqual({
      error: { code: 'invalid_argument', message: 'markRead: unknown event; sync, syncReads or read' },
    });
  });

  it('answers a known event once, with its own answer', async () => {
    const client = logged().connect();
    const answers: unknown[] = [];
    await new Promise<void>((resolve) => client.receive('read', { ids: [] }, (answer: unknown) => (answers.push(answer), resolve())));
    // The answer after it has come: anything answered twice would be in by now.
    await client.ask('read', { ids: [] });
    expect(answers).toEqual([{ ok: true }]);
  });

  it('logs an unknown event without a callback once per connection, without its payload', () => {
    const { connect, lines, warnings } = logged();
    const client = connect();
    client.tell('markRead', { ids: ['+4915112345678'] });
    client.tell('markRead', { ids: ['+4915112345678'] });
    client.tell('syncread', { afterReadSeq: 0 });
    expect(warnings()).toEqual([{ event: 'markRead', problem: undefined }]);
    connect().tell('x'.repeat(10_000), {});
    expect(warnings()).toEqual([
      { event: 'markRead', problem: undefined },
      { event: 'x'.repeat(64), problem: undefined },
    ]);
    expect(JSON.stringify(lines)).not.toContain('+4915112345678');
  });

  it('logs a request refused without a callback once per connection, naming the event and the problem, not the payload', async () => {
    const { connect, lines, warnings } = logged();
    const client = connect();
    client.tell('read', { ids: ['someone@example.com'] });
    // Answered after the reads before it, in order: they have been refused by then.
    await client.ask('read', { ids: [] });
    client.tell('sync', { afterSeq: 0 });
    expect(warnings()).toEqual([{ event: 'read', problem: 'ids.0: Invalid UUID' }]);
    // A sync without a callback has nowhere to put its page.
    connect().tell('sync', { afterSeq: 0 });
    expect(warnings()).toEqual([
      { event: 'read', problem: 'ids.0: Invalid UUID' },
      { event: 'sync', problem: expect.stringMatching(/no acknowledgement callback/) },
    ]);
    expect(JSON.stringify(lines)).not.toContain('someone@example.com');
  });

  it('logs each kind of warning once per connection, one kind not hiding another', () => {
    const { connect, lines } = logged();
    const client = connect();
    for (let round = 0; round < 2; round++) {
      client.tell('markRead', {});
      client.tell('sync', { afterSeq: 0 });
      // Told at once, the reads beyond those that may wait are dropped.
      for (let i = 0; i < MAX_WAITING_REQUESTS + 2; i++) client.tell('read', { ids: [] });
    }
    expect(lines.filter((line) => line['level'] === 40).map((line) => line['msg'])).toEqual([
      expect.stringMatching(/^ignored an event the gateway does not handle/),
      expect.stringMatching(/^refused a client request sent without an acknowledgement callback/),
      expect.stringMatching(/^reads without an acknowledgement are dropped/),
    ]);
  });
});

describe('InboxRequests: one request of a connection at a time', () => {
  /** An inbox whose syncs wait until the test lets the oldest go on (`release`). */
  function slowInbox() {
    const started: (() => void)[] = [];
    const marked: string[] = [];
    /** Every sync's `afterSeq` and syncReads' `afterReadSeq`, as the queries ran. */
    const queried: string[] = [];
    let running = 0;
    let most = 0;
    const inbox = {
      after: async (_userId: string, afterSeq: number) => {
        queried.push(`sync ${afterSeq}`);
        most = Math.max(most, ++running);
        await new Promise<void>((resolve) => started.push(resolve));
        running -= 1;
        return { notModified: true, lastSeq: afterSeq };
      },
      readsAfter: async (_userId: string, afterReadSeq: number) => (queried.push(`syncReads ${afterReadSeq}`), { notModified: true, lastReadSeq: afterReadSeq }),
      markRead: async (_userId: string, ids: string[]) => (marked.push(...ids), { read: ids, events: [] }),
    } as unknown as InboxStore;
    const release = async () => {
      await eventually(async () => started.length, (n) => n > 0, { intervalMs: 1 });
      started.shift()!();
    };
    return { inbox, started, marked, queried, release, most: () => most };
  }
  const requestsOn = (inbox: InboxStore, atOnce: number, now?: () => number) =>
    new InboxRequests(inbox, new EventPublisher(flakyProducer(0).producer, logger, instantRetry(3)), logger, null, atOnce, now);
  const tick = () => new Promise((resolve) => setImmediate(resolve));

  it('answers a connection’s requests one after another, in order, and busy beyond those that may wait', async () => {
    const slow = slowInbox();
    const client = socketOfUser1();
    requestsOn(slow.inbox, 5).attach(client.socket);

    // One is answered while MAX_WAITING_REQUESTS wait; the two beyond are told to ask again.
    const answers = Array.from({ length: MAX_WAITING_REQUESTS + 3 }, (_, afterSeq) => client.ask('sync', { afterSeq, limit: 10 }));
    await eventually(async () => slow.started.length, (n) => n > 0, { intervalMs: 1 });
    await tick();
    expect(slow.started).toHaveLength(1);
    expect(await Promise.all(answers.slice(-2))).toEqual([busy(), busy()]);
    for (let i = 0; i <= MAX_WAITING_REQUESTS; i++) await slow.release();
    expect(await Promise.all(answers.slice(0, -2))).toEqual(Array.from({ length: MAX_WAITING_REQUESTS + 1 }, (_, afterSeq) => ({ notModified: true, lastSeq: afterSeq })));
    expect(slow.most()).toBe(1);
    // Its turn over, the connection's next request is answered again.
    const next = client.ask('sync', { afterSeq: 99, limit: 10 });
    await slow.release();
    expect(await next).toEqual({ notModified: true, lastSeq: 99 });
  });

  it('answers at most the gateway’s share of requests at once, whatever the number of connections', async () => {
    const slow = slowInbox();
    const requests = requestsOn(slow.inbox, 2);
    const clients = ['user-1', 'user-2', 'user-3'].map((userId) => socketOfUser1(userId));
    for (const client of clients) requests.attach(client.socket);

    const answers = clients.map((client, afterSeq) => client.ask('sync', { afterSeq, limit: 10 }));
    await eventually(async () => slow.started.length, (n) => n > 0, { intervalMs: 1 });
    await tick();
    expect(slow.started).toHaveLength(2);
    for (let i = 0; i < 3; i++) await slow.release();
    expect(await Promise.all(answers)).toEqual([0, 1, 2].map((afterSeq) => ({ notModified: true, lastSeq: afterSeq })));
    expect(slow.most()).toBe(2);
  });

  it('answers one request of a user at a time, however many connections the user has, so other users are answered meanwhile', async () => {
    const slow = slowInbox();
    const requests = requestsOn(slow.inbox, 2);
    const many = Array.from({ length: 5 }, () => socketOfUser1('user-1'));
    const other = socketOfUser1('user-2');
    for (const client of [...many, other]) requests.attach(client.socket);

    const manyAnswers = many.map((client, afterSeq) => client.ask('sync', { afterSeq, limit: 10 }));
    const otherAnswer = other.ask('sync', { afterSeq: 50, limit: 10 });
    await eventually(async () => slow.started.length, (n) => n === 2, { intervalMs: 1 });
    await tick();
    // user-1's first sync and user-2's: user-1's four others wait for its turn, not for the gateway's.
    expect(slow.started).toHaveLength(2);
    await slow.release();
    await slow.release();
    expect(await otherAnswer).toEqual({ notModified: true, lastSeq: 50 });
    for (let i = 0; i < 4; i++) await slow.release();
    expect(await Promise.all(manyAnswers)).toEqual([0, 1, 2, 3, 4].map((afterSeq) => ({ notModified: true, lastSeq: afterSeq })));
  });

  it('skips a sync whose connection closed before its turn, and still stores a read that waited', async () => {
    const slow = slowInbox();
    const client = socketOfUser1();
    requestsOn(slow.inbox, 5).attach(client.socket);

    void client.ask('sync', { afterSeq: 0, limit: 10 });
    void client.ask('sync', { afterSeq: 1, limit: 10 });
    client.tell('read', { ids: ['0190a1b2-0000-7000-8000-000000000009'] });
    await eventually(async () => slow.started.length, (n) => n > 0, { intervalMs: 1 });
    (client.socket as unknown as { connected: boolean }).connected = false;
    await slow.release();
    await eventually(async () => slow.marked, (ids) => ids.length > 0, { intervalMs: 1 });
    await tick();
    expect(slow.started).toHaveLength(0);
    expect(slow.marked).toEqual(['0190a1b2-0000-7000-8000-000000000009']);
  });

  /** Two connections on a gateway that answers one request at a time, the first one's sync being answered. */
  async function secondInLine() {
    const slow = slowInbox();
    const requests = requestsOn(slow.inbox, 1);
    const [a, b] = [socketOfUser1(), socketOfUser1()];
    requests.attach(a.socket);
    requests.attach(b.socket);
    void a.ask('sync', { afterSeq: 0, limit: 10 });
    await eventually(async () => slow.started.length, (n) => n > 0, { intervalMs: 1 });
    return { slow, requests, b };
  }

  it('skips a sync whose connection closed while it waited for one of the gateway’s turns', async () => {
    const { slow, b } = await secondInLine();
    void b.ask('sync', { afterSeq: 1, limit: 10 });
    await tick();
    (b.socket as unknown as { connected: boolean }).connected = false;
    await slow.release();
    await tick();
    expect(slow.started).toHaveLength(0);
  });

  it('answers busy, without its query, a sync or syncReads that waited past the client’s request timeout, and still stores a read that did', async () => {
    let now = 1_000_000;
    const slow = slowInbox();
    const requests = requestsOn(slow.inbox, 1, () => now);
    const [stalled, client] = [socketOfUser1('user-2'), socketOfUser1('user-1')];
    requests.attach(stalled.socket);
    requests.attach(client.socket);
    // The database stalls: another user's sync holds the gateway's one turn.
    const stalledAnswer = stalled.ask('sync', { afterSeq: 0, limit: 10 });
    await eventually(async () => slow.started.length, (n) => n === 1, { intervalMs: 1 });
    const deadSync = client.ask('sync', { afterSeq: 1, limit: 10 });
    const deadSyncReads = client.ask('syncReads', { afterReadSeq: 3 });
    client.tell('read', { ids: ['0190a1b2-0000-7000-8000-00000000000b'] });
    await tick();
    // The client's timeout passes: it gives up on those, and asks again.
    now += CLIENT_REQUEST_TIMEOUT_MS + 1;
    const retry = client.ask('sync', { afterSeq: 2, limit: 10 });
    await slow.release();
    expect(await stalledAnswer).toEqual({ notModified: true, lastSeq: 0 });
    // The next query to run is the retry's.
    await eventually(async () => slow.started.length, (n) => n === 1, { intervalMs: 1 });
    expect(slow.queried).toEqual(['sync 0', 'sync 2']);
    expect(await deadSync).toEqual({ error: { code: 'busy', message: expect.stringContaining('waited more than 10 s') } });
    expect(await deadSyncReads).toEqual({ error: { code: 'busy', message: expect.stringContaining('waited more than 10 s') } });
    expect(slow.marked).toEqual(['0190a1b2-0000-7000-8000-00000000000b']);
    await slow.release();
    expect(await retry).toEqual({ notModified: true, lastSeq: 2 });
    expect(slow.queried).toEqual(['sync 0', 'sync 2']);
  });

  it('answers a sync that waited for its turn less than the client’s request timeout', async () => {
    let now = 0;
    const slow = slowInbox();
    const requests = requestsOn(slow.inbox, 1, () => now);
    const [stalled, client] = [socketOfUser1('user-2'), socketOfUser1('user-1')];
    requests.attach(stalled.socket);
    requests.attach(client.socket);
    void stalled.ask('sync', { afterSeq: 0, limit: 10 });
    await eventually(async () => slow.started.length, (n) => n === 1, { intervalMs: 1 });
    const answer = client.ask('sync', { afterSeq: 1, limit: 10 });
    await tick();
    now += CLIENT_REQUEST_TIMEOUT_MS - 1;
    await slow.release();
    await slow.release();
    expect(await answer).toEqual({ notModified: true, lastSeq: 1 });
    expect(slow.queried).toEqual(['sync 0', 'sync 1']);
  });

  it('stores the reads still waiting for their turn when the gateway shuts down', async () => {
    const { slow, requests, b } = await secondInLine();
    b.tell('read', { ids: ['0190a1b2-0000-7000-8000-00000000000a'] });
    let shutDown = false;
    const shutdown = requests.storeWaitingReads(5_000).then(() => void (shutDown = true));
    await tick();
    expect(shutDown).toBe(false);
    await slow.release();
    await shutdown;
    expect(slow.marked).toEqual(['0190a1b2-0000-7000-8000-00000000000a']);
  });
});

describe('InboxRequests: a client that does not read what it is sent', () => {
  /** A client of an inbox that answers every sync not modified, recording the place each asked from. */
  function pagedClient() {
    const pages: number[] = [];
    const paging = { after: async (_userId: string, afterSeq: number) => (pages.push(afterSeq), { notModified: true, lastSeq: afterSeq }) } as unknown as InboxStore;
    const requests = new InboxRequests(paging, new EventPublisher(flakyProducer(0).producer, logger, instantRetry(3)), logger, null, 5);
    const client = socketOfUser1();
    requests.attach(client.socket);
    return { pages, client };
  }

  it('answers its next sync only once the connection has written out the answers before', async () => {
    const { pages, client } = pagedClient();
    // A large page went out and the client stopped reading: the transport is still writing it, and
    // what came after waits in engine.io's buffer.
    client.conn.transport.writable = false;
    client.conn.writeBuffer.push('a page');

    const answers = [1, 2, 3].map((afterSeq) => client.ask('sync', { afterSeq, limit: 500 }));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pages).toEqual([]);

    // The client reads again: everything is written out, and the syncs are answered in order.
    client.conn.writeBuffer.length = 0;
    client.conn.transport.writable = true;
    await expect(Promise.all(answers)).resolves.toEqual([1, 2, 3].map((lastSeq) => ({ notModified: true, lastSeq })));
    expect(pages).toEqual([1, 2, 3]);
  });

  it('disconnects it once its unsent answers pile up, rather than answer it busy without end', async () => {
    const { pages, client } = pagedClient();
    client.conn.transport.writable = false;
    const answered: unknown[] = [];
    // Its answers go into the buffer and are never written: the buffer grows with each `busy` until the cap.
    for (let i = 0; i < 1_000 && client.socket.connected; i++) {
      void client.ask('sync', { afterSeq: i, limit: 500 }).then((answer) => answered.push(answer));
      client.conn.writeBuffer.length = answered.length;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(client.socket.connected).toBe(false);
    expect(answered.length).toBeLessThan(2 * MAX_UNSENT_PACKETS);
    expect(pages).toEqual([]);
  });

  it('disconnects it when what it is sent unasked still waits a while later, though it asks nothing; a burst written out meanwhile is no reason', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    try {
      const { client } = pagedClient();
      /** What engine.io does for each packet sent to the connection: tells, then buffers it. */
      const send = (count: number) => {
        for (let i = 0; i < count; i++) {
          const packet = { type: 'message', data: `notification ${i}` };
          client.conn.emit('packetCreate', packet);
          client.conn.writeBuffer.push(packet);
        }
      };
      /** What engine.io does when the transport can write again: hands the buffer over. */
      const flush = () => {
        client.conn.emit('flush', client.conn.writeBuffer);
        client.conn.writeBuffer.length = 0;
      };
      // A burst larger than the cap, written out within the grace period: the client reads.
      client.conn.transport.writable = false;
      send(MAX_UNSENT_PACKETS + 50);
      jest.advanceTimersByTime(UNREAD_GRACE_MS - 1);
      flush();
      jest.advanceTimersByTime(1);
      expect(client.socket.connected).toBe(true);
      // Another burst, and the next is in the buffer when the grace ends: it wrote out meanwhile, so it reads.
      send(MAX_UNSENT_PACKETS + 50);
      jest.advanceTimersByTime(UNREAD_GRACE_MS - 1);
      flush();
      send(MAX_UNSENT_PACKETS + 50);
      jest.advanceTimersByTime(1);
      expect(client.socket.connected).toBe(true);
      flush();
      jest.advanceTimersByTime(UNREAD_GRACE_MS);
      expect(client.socket.connected).toBe(true);

      // Then it stops reading: what is sent to it stays in the buffer.
      client.conn.transport.writable = false;
      send(MAX_UNSENT_PACKETS + 50);
      jest.advanceTimersByTime(UNREAD_GRACE_MS - 1);
      expect(client.socket.connected).toBe(true);
      jest.advanceTimersByTime(1);
      expect(client.socket.connected).toBe(false);
      // Its listeners went with it: the connection may carry the namespace again.
      expect([client.conn.listenerCount('packetCreate'), client.conn.listenerCount('flush')]).toEqual([0, 0]);
    } finally {
      jest.useRealTimers();
    }
  });
});
