import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { io, type Socket } from 'socket.io-client';
import { MAX_SYNC_LIMIT, Topics, type InboxMessage, type OutcomeEvent, type SyncResponse } from '@notify/contracts';
import { eventually, jsonOf } from '@notify/testing';
import { NotificationInbox } from '@notify/client/browser/notification-inbox.js';
import { ADAPTER_RECONNECTION_MAX_MS } from '@notify/realtime-gateway';
import { RunningPlatform, uniqueId, type NotificationSocket } from './platform';
import { readAllRecords } from './dead-letters';
import { seedWebsocketJob } from './websocket-job';

/** The realtime gateway through the real broker, database and Socket.IO connections. */
describe('realtime gateway', () => {
  // The tokens are signed by this process's clock, the gateway's: no tolerance, so a token's expiry ends its connection then.
  const platform = new RunningPlatform({
    GATEWAY_ACK_TIMEOUT_MS: '5000',
    CLICK_SECRET: 'e2e-click-secret-0123456789abcdef0123',
    CLICK_BASE_URL: 'https://notify.example',
    JWT_CLOCK_TOLERANCE_MS: '0',
  });
  const note = (userId: string, title: string) =>
    platform.produceRequest({ id: uniqueId('gw'), type: 'account.note', to: { userId }, channels: ['websocket'], content: { title } }, userId);
  const sync = (socket: NotificationSocket, afterSeq: number, limit?: number) =>
    new Promise<SyncResponse>((resolve) => socket.emit('sync', limit === undefined ? { afterSeq } : { afterSeq, limit }, resolve));
  const websocketDelivery = async (userId: string, title: string) =>
    (
      await platform.db.query(
        `SELECT d.status, d.last_error FROM deliveries d JOIN messages m ON m.id = d.message_id AND m.created_at = d.created_at
          WHERE d.user_id = $1 AND d.channel = 'websocket' AND m.contents -> d.locale ->> 'title' = $2`,
        [userId, title],
      )
    )[0] as { status: string; last_error: string | null } | undefined;
  /** The events notify.events holds now for one delivery of the user. */
  const outcomeEventsOf = async (userId: string, deliveryId: string) =>
    (await readAllRecords(Topics.events, userId)).map((record) => jsonOf(record.value) as OutcomeEvent).filter((event) => event.deliveryId === deliveryId);

  beforeAll(() => platform.start());
  afterAll(() => platform.stop());

  describe('authentication', () => {
    const refused = (auth: Record<string, unknown>, namespace = '/notifications') =>
      new Promise<string>((resolve) => {
        const socket = io(`http://127.0.0.1:${platform.gatewayPort}${namespace}`, { auth, transports: ['websocket'], reconnection: false });
        socket.once('connect', () => {
          socket.disconnect();
          resolve('connected');
        });
        socket.once('connect_error', (error) => {
          socket.disconnect();
          resolve(error.message);
        });
      });

    it('refuses a missing, an expired and a forged token', async () => {
      const expired = jwt.sign({ sub: 'u-1', exp: Math.floor(Date.now() / 1000) - 60 }, platform.jwtSecret);
      const forged = jwt.sign({ sub: 'u-1' }, 'another-secret-of-enough-length', { expiresIn: '1h' });
      const unsigned = jwt.sign({ sub: 'u-1' }, platform.jwtSecret);
      expect(await refused({})).toBe('a token is required');
      expect(await refused({ token: expired })).toBe('token expired');
      expect(await refused({ token: forged })).toBe('invalid token');
      expect(await refused({ token: unsigned })).toBe('token has no expiry');
    });

    it('refuses a connection to the main namespace, which would hold it open without a token', async () => {
      expect(await refused({}, '/')).toBe('connect to /notifications');
    });

    it('never gives user A the messages of user B, whatever A asks for', async () => {
      const a = uniqueId('a');
      const b = uniqueId('b');
      const intruder = await platform.connectAndCollect(a, { auth: { userId: b, room: `user:${b}`, sub: b } });
      const owner = await platform.connectAndCollect(b);
      await note(b, 'for b only');
      await eventually(async () => owner.received.length, (n) => n === 1);
      expect(await sync(intruder.socket, 0)).toEqual({ notModified: true, lastSeq: 0 });
      await note(a, 'for a');
      await eventually(async () => intruder.received.length, (n) => n === 1);
      expect(intruder.received.map((m) => m.title)).toEqual(['for a']);
    });
  });

  it('tells in GET /health whether its cluster adapter listens, beside its database and broker', async () => {
    const health = await eventually(
      async () => (await fetch(`http://127.0.0.1:${platform.gatewayPort}/health`)).json() as Promise<{ checks: Record<string, string> }>,
      (report) => report.checks['cluster'] === 'up',
    );
    expect(health.checks).toMatchObject({ postgres: 'up', kafka: 'up', cluster: 'up' });
  });

  it('keeps a connection whose token expires further away than a timer can wait', async () => {
    const userId = uniqueId('long-token');
    // 30 days: beyond the 24.8 days a Node.js timer holds, which would otherwise fire at once.
    const socket = await platform.connect(userId, { auth: { token: platform.tokenFor(userId, '30d') } });
    let disconnected = false;
    socket.on('disconnect', () => void (disconnected = true));
    expect(await sync(socket, 0)).toEqual({ notModified: true, lastSeq: 0 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await sync(socket, 0)).toEqual({ notModified: true, lastSeq: 0 });
    expect(disconnected).toBe(false);
  });

  it('lets the browser module come back with a fresh token after the gateway ends its connection at the token’s expiry', async () => {
    const userId = uniqueId('token-refresh');
    const lifetimes: string[] = [];
    const statuses: string[] = [];
    const inbox = new NotificationInbox({
      io: io as never,
      url: `http://127.0.0.1:${platform.gatewayPort}`,
      userId,
      // The first token lives 4 s (a JWT's expiry is in whole seconds, so 3 to 4 s are left: room for a
      // slow handshake), every later one an hour.
      token: () => (lifetimes.push(lifetimes.length === 0 ? '4s' : '1h'), platform.tokenFor(userId, lifetimes[lifetimes.length - 1])),
      syncRetryMs: 100,
      onStatus: (status, detail) => void statuses.push(detail ? `${status}: ${detail}` : status),
    }).connect();
    try {
      await eventually(async () => statuses.filter((s) => s === 'connected').length, (n) => n === 2);
      expect(statuses.filter((s) => s.startsWith('disconnected'))).toEqual(['disconnected: io server disconnect']);
      expect(lifetimes).toEqual(['4s', '1h']);
      await note(userId, 'after the fresh token');
      await eventually(async () => inbox.list().map((m) => m.title), (titles) => titles.includes('after the fresh token'));
      expect(await eventually(() => websocketDelivery(userId, 'after the fresh token'), (row) => row?.status === 'delivered')).toEqual({ status: 'delivered', last_error: null });
    } finally {
      inbox.disconnect();
    }
  });

  it('answers a read of as many ids as a request may carry without dropping the connection', async () => {
    const socket = await platform.connect(uniqueId('read-many'));
    const ids = Array.from({ length: MAX_SYNC_LIMIT }, () => randomUUID());
    expect(await new Promise((resolve) => socket.emit('read', { ids }, resolve))).toEqual({ ok: true });
    expect(socket.connected).toBe(true);
  });

  it('emits a job consumed twice in one batch once', async () => {
    const userId = uniqueId('replayed-job');
    const client = await platform.connectAndCollect(userId);
    const job = await seedWebsocketJob((sql, params) => platform.db.query(sql, params), userId, { requestId: uniqueId('replayed'), seq: 1 });
    const record = { key: userId, value: JSON.stringify(job) };
    await platform.producer.send({ topic: Topics.deliver.websocket, messages: [record, record] });
    await eventually(() => platform.db.query(`SELECT status FROM deliveries WHERE id = $1`, [job.deliveryId]), (rows) => rows[0]?.status === 'delivered');
    // Anything emitted for the job arrived before this later note.
    await note(userId, 'after the replay');
    await eventually(async () => client.received, (received) => received.some((m) => m.title === 'after the replay'));
    expect(client.received.map((m) => m.title)).toEqual([job.message.title, 'after the replay']);
  });

  it('does not emit again a job consumed again in a later batch, once its delivery was acknowledged', async () => {
    const userId = uniqueId('replayed-later');
    const client = await platform.connectAndCollect(userId);
    const job = await seedWebsocketJob((sql, params) => platform.db.query(sql, params), userId, { requestId: uniqueId('replayed-later'), seq: 1 });
    const record = { key: userId, value: JSON.stringify(job) };
    await platform.producer.send({ topic: Topics.deliver.websocket, messages: [record] });
    await eventually(() => platform.db.query(`SELECT status FROM deliveries WHERE id = $1`, [job.deliveryId]), (rows) => rows[0]?.status === 'delivered');
    // In a batch of its own, so only the claim can tell it was sent (a producer's retry, a replay from an older offset).
    await platform.producer.send({ topic: Topics.deliver.websocket, messages: [record] });
    await note(userId, 'after the later replay');
    await eventually(async () => client.received, (received) => received.some((m) => m.title === 'after the later replay'));

    expect(client.received.map((m) => m.title)).toEqual([job.message.title, 'after the later replay']);
    expect(await platform.db.query(`SELECT status, attempts FROM deliveries WHERE id = $1`, [job.deliveryId])).toEqual([{ status: 'delivered', attempts: 1 }]);
    const outcomes = await eventually(() => outcomeEventsOf(userId, job.deliveryId), (events) => events.length > 0);
    expect(outcomes.map((event) => event.status)).toEqual(['delivered']);
  });

  it('does not show a job past its expiry, and ends its delivery as expired', async () => {
    const userId = uniqueId('expired-job');
    const client = await platform.connectAndCollect(userId);
    const job = await seedWebsocketJob((sql, params) => platform.db.query(sql, params), userId, {
      requestId: uniqueId('expired'),
      seq: 1,
      expiresAt: new Date(Date.now() - 1_000),
    });
    await platform.producer.send({ topic: Topics.deliver.websocket, messages: [{ key: userId, value: JSON.stringify(job) }] });
    await note(userId, 'after the expired one');
    await eventually(async () => client.received, (received) => received.some((m) => m.title === 'after the expired one'));
    // Ended once the batch's emits are out, or (shown) once the client acknowledged it: either way, what the client got is final then.
    const [row] = await eventually(
      () => platform.db.query(`SELECT status, attempts FROM deliveries WHERE id = $1`, [job.deliveryId]) as Promise<{ status: string; attempts: number }[]>,
      (rows) => rows[0]?.status !== 'queued' && rows[0]?.status !== 'sent',
    );

    expect(client.received.map((m) => m.title)).toEqual(['after the expired one']);
    expect(row).toEqual({ status: 'expired', attempts: 0 });
    const outcomes = await eventually(() => outcomeEventsOf(userId, job.deliveryId), (events) => events.length > 0);
    expect(outcomes.map((event) => event.status)).toEqual(['expired']);
  });

  it('copies a record that is not a websocket delivery to the topic’s dead-letter topic and goes on', async () => {
    const userId = uniqueId('junk');
    const client = await platform.connectAndCollect(userId);
    const job = await seedWebsocketJob((sql, params) => platform.db.query(sql, params), userId, { requestId: uniqueId('junk-job'), seq: 1 });
    await platform.producer.send({
      topic: Topics.deliver.websocket,
      messages: [
        { key: userId, value: 'not json' },
        // A push job on the websocket topic would otherwise be shown in the browser.
        { key: userId, value: JSON.stringify({ ...job, channel: 'push' }) },
      ],
    });
    await note(userId, 'after the junk');
    await eventually(async () => client.received, (received) => received.some((m) => m.title === 'after the junk'));
    expect(client.received.map((m) => m.title)).toEqual(['after the junk']);
    const dead = await readAllRecords(`${Topics.deliver.websocket}.dlq`, userId);
    expect(dead.map((copy) => [copy.value, copy.headers['x-error-code'], copy.headers['x-original-topic']])).toEqual([
      ['not json', 'invalid_json', Topics.deliver.websocket],
      [JSON.stringify({ ...job, channel: 'push' }), 'schema_violation', Topics.deliver.websocket],
    ]);
  });

  it('gives a client back exactly what it missed while offline, in order, then "not modified"', async () => {
    const userId = uniqueId('offline');
    const first = await platform.connectAndCollect(userId);
    await note(userId, 'before');
    await eventually(async () => first.received.length, (n) => n === 1);
    const lastSeq = first.received[0]!.seq;
    first.socket.disconnect();

    for (let i = 1; i <= 5; i++) await note(userId, `missed ${i}`);
    await eventually(() => websocketDelivery(userId, 'missed 5'), (d) => d?.status === 'failed');

    const again = await platform.connect(userId);
    const answer = await sync(again, lastSeq);
    expect(answer).toMatchObject({ lastSeq: lastSeq + 5, hasMore: false });
    const messages = (answer as { messages: InboxMessage[] }).messages;
    expect(messages.map((m) => [m.seq, m.title])).toEqual([1, 2, 3, 4, 5].map((i) => [lastSeq + i, `missed ${i}`]));
    expect(await sync(again, lastSeq + 5)).toEqual({ notModified: true, lastSeq: lastSeq + 5 });
    expect(await sync(again, lastSeq, 2)).toMatchObject({ hasMore: true, messages: [{ seq: lastSeq + 1 }, { seq: lastSeq + 2 }] });
  });

  it('answers a malformed sync with an invalid_argument error naming the field', async () => {
    const socket = await platform.connect(uniqueId('bad-sync'));
    expect(await sync(socket, -1)).toEqual({ error: { code: 'invalid_argument', message: expect.stringMatching(/^afterSeq: /) } });
    expect(await sync(socket, 0, 501)).toEqual({ error: { code: 'invalid_argument', message: expect.stringMatching(/^limit: /) } });
  });

  it('answers an event it does not handle, sent with a callback, with invalid_argument, and a known event once', async () => {
    const socket = await platform.connect(uniqueId('unknown-event'));
    // A typo: Socket.IO drops an event nothing listens to, and the client would wait for ever.
    const untyped = socket as unknown as Socket;
    await expect(untyped.timeout(10_000).emitWithAck('syncread', { afterReadSeq: 0 })).resolves.toEqual({
      error: { code: 'invalid_argument', message: 'syncread: unknown event; sync, syncReads or read' },
    });
    const answers: unknown[] = [];
    await new Promise<void>((resolve) => socket.emit('sync', { afterSeq: 0 }, (answer) => (answers.push(answer), resolve())));
    // A later request's answer has come: a second answer to the first would have come before it.
    expect(await sync(socket, 0)).toEqual({ notModified: true, lastSeq: 0 });
    expect(answers).toEqual([{ notModified: true, lastSeq: 0 }]);
  });

  it('records ack_timeout for a client that never acknowledges', async () => {
    const userId = uniqueId('silent');
    const socket = await platform.connect(userId);
    const received: string[] = [];
    socket.on('notification', (message) => void received.push(message.title));
    await note(userId, 'unacknowledged');
    const delivery = await eventually(() => websocketDelivery(userId, 'unacknowledged'), (d) => d?.status === 'failed');
    expect(received).toEqual(['unacknowledged']);
    expect(delivery).toEqual({ status: 'failed', last_error: 'ack_timeout' });
  });

  it('forgets an acknowledgement another gateway waited for in vain, on the gateway holding the connection too', async () => {
    const edgePort = await platform.addEdgeGateway();
    const userId = uniqueId('silent-edge');
    const socket = await platform.connect(userId, { port: edgePort });
    const received: string[] = [];
    socket.on('notification', (message) => void received.push(message.title));
    await note(userId, 'unacknowledged through the cluster');
    await eventually(() => websocketDelivery(userId, 'unacknowledged through the cluster'), (d) => d?.status === 'failed');
    expect(received).toEqual(['unacknowledged through the cluster']);
    // socket.io forgot it at the timeout only on the emitting gateway: the edge kept the callback and its message.
    await eventually(async () => platform.owedAcknowledgements(edgePort, userId), (owed) => owed === 0);
    expect(socket.connected).toBe(true);
  });

  it('records client_error when every device answers with an error, and delivered once one stores it', async () => {
    const userId = uniqueId('refusing');
    const full = await platform.connect(userId, { deviceId: 'full' });
    full.on('notification', (_message, ack) => ack({ error: { code: 'storage_full', message: 'no room left' } }));
    await note(userId, 'refused');
    expect(await eventually(() => websocketDelivery(userId, 'refused'), (d) => d?.status === 'failed')).toEqual({ status: 'failed', last_error: 'client_error' });

    await platform.connectAndCollect(userId, { deviceId: 'roomy' });
    await note(userId, 'stored by one');
    await eventually(() => websocketDelivery(userId, 'stored by one'), (d) => d?.status === 'delivered');
  });

  it('takes an acknowledgement with a null error, as a Java or Go client writes an empty field, for stored', async () => {
    const userId = uniqueId('null-error');
    const socket = await platform.connect(userId);
    socket.on('notification', (_message, ack) => ack({ ok: true, error: null } as never));
    await note(userId, 'stored, no error');
    expect(await eventually(() => websocketDelivery(userId, 'stored, no error'), (d) => d?.status === 'delivered' || d?.status === 'failed')).toEqual({
      status: 'delivered',
      last_error: null,
    });
  });

  it('ends a job that has no inbox sequence number as dead instead of emitting it', async () => {
    const userId = uniqueId('unplaced');
    const client = await platform.connectAndCollect(userId);
    const job = await seedWebsocketJob((sql, params) => platform.db.query(sql, params), userId, { requestId: uniqueId('unplaced-request'), seq: null });
    const { deliveryId } = job;
    await platform.producer.send({ topic: Topics.deliver.websocket, messages: [{ key: userId, value: JSON.stringify(job) }] });
    const [row] = await eventually(
      () => platform.db.query(`SELECT status, last_error FROM deliveries WHERE id = $1`, [deliveryId]) as Promise<{ status: string; last_error: string | null }[]>,
      (rows) => rows[0]?.status !== 'queued',
    );
    expect(row).toEqual({ status: 'dead', last_error: 'internal' });
    expect(client.received).toEqual([]);
  });

  it('delivers to every device of a user, and tells the other devices what one has read', async () => {
    const userId = uniqueId('two-devices');
    const phone = await platform.connectAndCollect(userId, { deviceId: 'phone' });
    const laptop = await platform.connectAndCollect(userId, { deviceId: 'laptop' });
    const readOnLaptop: string[][] = [];
    const readOnPhone: string[][] = [];
    laptop.socket.on('read', ({ ids }) => void readOnLaptop.push(ids));
    phone.socket.on('read', ({ ids }) => void readOnPhone.push(ids));
    await note(userId, 'on both');
    await eventually(async () => phone.received.length + laptop.received.length, (n) => n === 2);
    expect(phone.received[0]!.id).toBe(laptop.received[0]!.id);
    await eventually(() => websocketDelivery(userId, 'on both'), (d) => d?.status === 'delivered');

    const answer = await new Promise((resolve) => phone.socket.emit('read', { ids: [phone.received[0]!.id] }, resolve));
    expect(answer).toEqual({ ok: true });
    await eventually(async () => readOnLaptop.length, (n) => n === 1);
    expect(readOnLaptop).toEqual([[phone.received[0]!.id]]);
    expect(readOnPhone).toEqual([]);
    expect(await websocketDelivery(userId, 'on both')).toEqual({ status: 'read', last_error: null });
  });

  it('tells a device that was away what its user read meanwhile on another (syncReads), then "not modified"', async () => {
    const userId = uniqueId('read-away');
    const phone = await platform.connectAndCollect(userId, { deviceId: 'phone' });
    await note(userId, 'read while the tablet sleeps');
    await eventually(async () => phone.received.length, (n) => n === 1);
    const id = phone.received[0]!.id;
    expect(await new Promise((resolve) => phone.socket.emit('read', { ids: [id] }, resolve))).toEqual({ ok: true });

    const tablet = await platform.connect(userId, { deviceId: 'tablet' });
    const syncReads = (afterReadSeq: unknown) => new Promise((resolve) => tablet.emit('syncReads', { afterReadSeq } as { afterReadSeq: number }, resolve));
    const reads = (await syncReads(0)) as { ids: string[]; lastReadSeq: number; hasMore: boolean };
    expect(reads).toEqual({ ids: [id], lastReadSeq: expect.any(Number), hasMore: false });
    expect(await syncReads(reads.lastReadSeq)).toEqual({ notModified: true, lastReadSeq: reads.lastReadSeq });
    expect(await syncReads(-1)).toEqual({ error: { code: 'invalid_argument', message: expect.stringMatching(/^afterReadSeq: /) } });
  });

  it('reaches a user connected to another gateway of the cluster, with the acknowledgement coming back', async () => {
    const edgePort = await platform.addEdgeGateway();
    const userId = uniqueId('edge');
    const client = await platform.connectAndCollect(userId, { port: edgePort });
    await note(userId, 'through the cluster');
    await eventually(async () => client.received.length, (n) => n === 1);
    expect(client.received[0]!.title).toBe('through the cluster');
    await eventually(() => websocketDelivery(userId, 'through the cluster'), (d) => d?.status === 'delivered');
  });

  it('sends a message without a link with no url key, also a large one through another gateway of the cluster', async () => {
    const edgePort = await platform.addEdgeGateway();
    const userId = uniqueId('edge-large');
    const client = await platform.connectAndCollect(userId, { port: edgePort });
    // Over the adapter's 8 KB, a cluster message travels as a msgpack attachment.
    const data = { text: 'x'.repeat(12_000) };
    await platform.produceRequest({ id: uniqueId('gw-large'), type: 'account.note', to: { userId }, channels: ['websocket'], content: { title: 'large' }, data }, userId);
    await eventually(async () => client.received.length, (n) => n === 1);
    expect(client.received[0]!.data).toEqual(data);
    expect(Object.keys(client.received[0]!)).not.toContain('url');
  });

  it('gives a message with a link its tracked link, which records the click once and redirects to the link', async () => {
    const userId = uniqueId('clicks');
    const client = await platform.connectAndCollect(userId);
    const target = 'https://shop.example/orders/1234?from=notification';
    const requestId = uniqueId('click');
    await platform.produceRequest({ id: requestId, type: 'account.note', to: { userId }, channels: ['websocket'], content: { title: 'Shipped', url: target } }, userId);
    await eventually(async () => client.received.length, (n) => n === 1);
    const link = new URL(client.received[0]!.url!);
    expect(link.pathname).toMatch(/^\/c\/[0-9a-f-]{36}\.[\w-]{22}$/);
    await eventually(() => websocketDelivery(userId, 'Shipped'), (d) => d?.status === 'delivered');
    const follow = (path: string, method = 'GET') => fetch(`http://127.0.0.1:${platform.gatewayPort}${path}`, { method, redirect: 'manual' });

    // A link checker's HEAD finds where it leads and clicks nothing.
    const looked = await follow(link.pathname, 'HEAD');
    expect([looked.status, looked.headers.get('location'), (await websocketDelivery(userId, 'Shipped'))?.status]).toEqual([302, target, 'delivered']);
    const first = await follow(link.pathname);
    const second = await follow(link.pathname);

    expect([first.status, first.headers.get('location'), second.status, second.headers.get('location')]).toEqual([302, target, 302, target]);
    expect(await websocketDelivery(userId, 'Shipped')).toEqual({ status: 'clicked', last_error: null });
    // The same link in a sync page, and counted once.
    expect((await sync(client.socket, 0)) as { messages: { url?: string }[] }).toMatchObject({ messages: [{ url: link.href }] });
    // Opened in the inbox afterwards: read does not take the click back.
    expect(await new Promise((resolve) => client.socket.emit('read', { ids: [client.received[0]!.id] }, resolve))).toEqual({ ok: true });
    expect(await websocketDelivery(userId, 'Shipped')).toEqual({ status: 'clicked', last_error: null });
    // GetStats counts it: the request's counters, kept by the triggers.
    expect(await platform.db.query(`SELECT clicked::int, delivered::int FROM request_delivery_stats WHERE request_id = $1`, [requestId])).toEqual([{ clicked: 1, delivered: 1 }]);
    // Not this installation's signature: unknown.
    const forged = link.pathname.replace(/\.[\w-]+$/, '.' + 'A'.repeat(22));
    expect((await follow(forged)).status).toBe(404);
    // The first click, and only it, is published (the HEAD and the second GET are not).
    const clickedEvents = async () =>
      (await readAllRecords(Topics.events, userId)).map((record) => jsonOf(record.value) as OutcomeEvent).filter((event) => event.status === 'clicked');
    const clicked = await eventually(clickedEvents, (events) => events.length > 0);
    expect(clicked.map((event) => [event.requestId, event.channel, event.status])).toEqual([[requestId, 'websocket', 'clicked']]);
  });

  it('keeps its cluster when the database ends the adapter’s connections, as a restart of PostgreSQL does', async () => {
    const edgePort = await platform.addEdgeGateway();
    const listening = async () =>
      (
        (await platform.db.query(
          `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'realtime-gateway-adapter' AND query LIKE 'LISTEN%'`,
        )) as { pid: number }[]
      ).map((row) => row.pid);
    const before = await listening();
    await platform.db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'realtime-gateway-adapter'`,
    );
    // Every gateway listens again, on a new connection (a terminated backend is listed until it has exited).
    await eventually(listening, (pids) => pids.length === before.length && pids.every((pid) => !before.includes(pid)));
    const userId = uniqueId('edge-after');
    const client = await platform.connectAndCollect(userId, { port: edgePort });
    await note(userId, 'after the adapter reconnected');
    await eventually(() => websocketDelivery(userId, 'after the adapter reconnected'), (d) => d?.status === 'delivered');
    expect(client.received.map((m) => m.title)).toEqual(['after the adapter reconnected']);
  });

  it('holds an emit made as every gateway’s LISTEN connection ends until the others can listen again, and delivers it live', async () => {
    const edgePort = await platform.addEdgeGateway();
    const userId = uniqueId('edge-relisten');
    const arrivals: number[] = [];
    const client = await platform.connectAndCollect(userId, { port: edgePort });
    client.socket.on('notification', () => void arrivals.push(Date.now()));
    // The adapters reconnect 1 to 3 s after the loss, at random: here both after 1 s, so that an emit
    // that trusted the cluster a second after its own gateway listened again goes out at about 2 s.
    const random = jest.spyOn(Math, 'random').mockReturnValue(0);
    const endedAt = Date.now();
    try {
      await platform.db.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'realtime-gateway-adapter'`,
      );
      await note(userId, 'as the cluster listens again');
      expect(await eventually(() => websocketDelivery(userId, 'as the cluster listens again'), (d) => d !== undefined && d.status !== 'queued' && d.status !== 'sent')).toEqual({
        status: 'delivered',
        last_error: null,
      });
    } finally {
      random.mockRestore();
    }
    expect(client.received.map((m) => m.title)).toEqual(['as the cluster listens again']);
    // Not before any gateway could have listened again: another one may reconnect 3 s after the loss.
    expect(arrivals[0]! - endedAt).toBeGreaterThanOrEqual(ADAPTER_RECONNECTION_MAX_MS);
  });

  it('delivers to a user on another gateway right after its own adapter was deaf long enough to forget that gateway', async () => {
    const edgePort = await platform.addEdgeGateway();
    const userId = uniqueId('edge-deaf');
    const client = await platform.connectAndCollect(userId, { port: edgePort });
    const adapterConnections = `FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'realtime-gateway-adapter'`;
    // The consuming gateway's adapter pool (three connections) is busy for 14 s, a third statement
    // waiting for the LISTEN connection's place; the LISTEN connections end (as in a PostgreSQL
    // restart), and the consuming gateway cannot listen again until the statements are done: it
    // drops the other gateways after 10 s.
    platform.busyConsumingClusterConnections(3, 14);
    await eventually(async () => ((await platform.db.query(`SELECT count(*)::int AS n ${adapterConnections} AND query LIKE '%pg_sleep%'`)) as { n: number }[])[0]!.n, (n) => n === 2);
    await platform.db.query(`SELECT pg_terminate_backend(pid) ${adapterConnections} AND query LIKE 'LISTEN%'`);
    await eventually(() => platform.clusterSize(), (size) => size === 1, { timeoutMs: 30_000 });
    const listeningGateways = async () => ((await platform.db.query(`SELECT count(*)::int AS n ${adapterConnections} AND query LIKE 'LISTEN%'`)) as { n: number }[])[0]!.n;
    await eventually(listeningGateways, (n) => n === 1 + platform.edgePorts.length, { timeoutMs: 30_000 });

    await note(userId, 'after a deaf spell');
    const settled = await eventually(
      () => websocketDelivery(userId, 'after a deaf spell'),
      (d) => d !== undefined && d.status !== 'queued' && d.status !== 'sent',
    );
    expect(settled).toEqual({ status: 'delivered', last_error: null });
    expect(client.received.map((m) => m.title)).toEqual(['after a deaf spell']);
  });
});
