import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { HttpAdapterHost } from '@nestjs/core';
import jwt from 'jsonwebtoken';
import type { Kafka } from 'kafkajs';
import { io, type Socket } from 'socket.io-client';
import { REALTIME_NAMESPACE, type DeliveryJob, type InboxMessage, type StoredAck } from '@notify/contracts';
import type { ConsumedRecord } from '@notify/kafka';
import { createLogger, HealthRegistry, Metrics } from '@notify/observability';
import type { DeliveryOutcome, DeliveryOutcomeStore, InboxStore } from '@notify/persistence';
import { eventually } from '@notify/testing';
import { TokenVerifier } from '../auth/token-verifier';
import { InboxRequests } from '../realtime/inbox-requests';
import { RealtimeServer } from '../realtime/realtime-server';
import { watched } from '../testing/browsers';
import { flakyProducer, instantRetry, outcomeEvent } from '../testing/doubles';
import { EventPublisher } from './event-publisher';
import { OutcomeRecorder } from './outcome-recorder';
import { WebsocketDelivery } from './websocket-delivery';

const logger = createLogger('websocket-delivery-spec', 'silent');
const SECRET = 'a-test-secret-of-at-least-32-chars';
const USER = 'user-1';
/** Emits in flight at most; the acknowledgement timeout is far beyond any test, so only acknowledgements end emits. */
const LIMIT = 3;
const ACK_TIMEOUT_MS = 120_000;

/** A store that claims every delivery (attempt 1) and keeps the outcomes it recorded; `record` waits for `open()` when `gated`. */
function deliveryStore({ gated }: { gated: boolean }) {
  const recorded: DeliveryOutcome[] = [];
  let writes = 0;
  let open!: () => void;
  const opened = gated ? new Promise<void>((resolve) => (open = resolve)) : Promise.resolve();
  const store = {
    claimAttempts: async (ids: string[]) => new Map(ids.map((id) => [id, 1])),
    endQueued: async () => [],
    record: async (outcomes: DeliveryOutcome[]) => {
      writes += 1;
      await opened;
      recorded.push(...outcomes);
      return outcomes.map((o) => outcomeEvent(o.deliveryId, o.status));
    },
  } as unknown as DeliveryOutcomeStore;
  return { store, recorded, writes: () => writes, open: () => open() };
}

function job(userId: string): DeliveryJob {
  const deliveryId = randomUUID();
  return {
    deliveryId,
    requestId: `request-${deliveryId}`,
    userId,
    channel: 'websocket',
    endpoint: `inbox:${userId}`,
    attempt: 1,
    expiresAt: null,
    priority: 'normal',
    locale: 'en',
    message: { id: `message-${deliveryId}`, seq: 1, type: 'account.note', title: 't', body: 'b', data: {}, createdAt: new Date().toISOString() },
  };
}

let offset = 0;
function records(jobs: DeliveryJob[]): ConsumedRecord[] {
  return jobs.map((j) => ({
    topic: 'notify.deliver.websocket',
    partition: 0,
    offset: String(offset++),
    key: Buffer.from(j.userId!),
    value: Buffer.from(JSON.stringify(j)),
    headers: {},
    timestamp: String(Date.now()),
  }));
}

/** A browser that holds every message's acknowledgement until the test gives it (`ack`). */
interface Browser {
  socket: Socket;
  received: { message: InboxMessage; ack: (reply?: StoredAck) => void }[];
}

async function browser(port: number, userId: string): Promise<Browser> {
  const token = jwt.sign({ sub: userId }, SECRET, { algorithm: 'HS256', expiresIn: '1h' });
  const socket = io(`http://127.0.0.1:${port}${REALTIME_NAMESPACE}`, { auth: { token }, transports: ['websocket'], reconnection: false });
  const received: Browser['received'] = [];
  socket.on('notification', (message: InboxMessage, ack: (reply?: StoredAck) => void) => received.push({ message, ack }));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, received };
}

describe('WebsocketDelivery', () => {
  let http: HttpServer;
  let realtime: RealtimeServer;
  let client: Browser;

  /** A gateway with a real Socket.IO server (no cluster), a browser of USER connected to it, and a delivery of at most LIMIT emits in flight. */
  async function gateway({ gated }: { gated: boolean }) {
    http = createServer();
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as { port: number };
    const producer = flakyProducer(0).producer;
    const publisher = new EventPublisher(producer, logger, instantRetry(3));
    const inboxRequests = new InboxRequests({} as InboxStore, publisher, logger, null, 4);
    realtime = new RealtimeServer(
      { httpAdapter: { getHttpServer: () => http } } as unknown as HttpAdapterHost,
      new TokenVerifier({ jwtSecret: SECRET }),
      inboxRequests,
      { allowedOrigins: [], maxHttpBufferSize: 1_000_000, ackTimeoutMs: ACK_TIMEOUT_MS, clusterAdapter: 'none', databaseUrl: '' },
      logger,
      new HealthRegistry(),
    );
    realtime.onApplicationBootstrap();
    const db = deliveryStore({ gated });
    const outcomes = new OutcomeRecorder(db.store, publisher, logger, instantRetry(3));
    const delivery = new WebsocketDelivery(
      {} as Kafka,
      producer,
      db.store,
      realtime,
      outcomes,
      logger,
      { consumerGroup: 'websocket-delivery-spec', deliveryConsumer: false, ackTimeoutMs: ACK_TIMEOUT_MS, outcomeGraceMs: 1_000, maxEmitsInFlight: LIMIT },
      () => undefined,
      null,
      new Metrics('websocket-delivery-spec'),
    );
    client = await browser(port, USER);
    let progress = 0;
    // The consumer's handler, as BatchConsumer calls it.
    const deliver = (jobs: DeliveryJob[]) => watched(delivery['deliver'](records(jobs), () => (progress += 1)));
    return { delivery, db, deliver, progress: () => progress };
  }

  afterEach(async () => {
    // Every emit answered, so the shutdown's wait for them ends at once.
    for (const { ack } of client?.received ?? []) ack({ ok: true });
    client?.socket.close();
    await realtime?.beforeApplicationShutdown();
    await new Promise((resolve) => http.close(resolve));
  });

  it('holds a further batch while LIMIT emits are unanswered, and lets it go once an acknowledgement is recorded', async () => {
    const { db, deliver, progress } = await gateway({ gated: false });

    // Two emits in flight, fewer than the limit: the batch is done with its emits unanswered.
    const first = [job(USER), job(USER)];
    await deliver(first).promise;
    await eventually(async () => client.received.length, (n) => n === 2);

    const further = deliver([job(USER)]);
    await eventually(async () => client.received.length, (n) => n === 3);
    // Its emit reached the browser over the network: without a bound, the batch was long done.
    expect(further.settled()).toBe(false);
    expect(realtime.unansweredEmits()).toBe(LIMIT);

    expect(client.received[0]!.message.id).toBe(first[0]!.message.id);
    client.received[0]!.ack({ ok: true });
    await further.promise;
    // Done once the acknowledgement is recorded, not only answered.
    expect(db.recorded).toEqual([{ deliveryId: first[0]!.deliveryId, attempt: 1, status: 'delivered', error: null }]);
    expect(realtime.unansweredEmits()).toBe(LIMIT - 1);
    expect(progress()).toBeGreaterThan(0);
  });

  it('holds the batch until the acknowledgements answered are written, when the writer is slow', async () => {
    const { db, deliver } = await gateway({ gated: true });
    await deliver([job(USER), job(USER)]).promise;
    const further = deliver([job(USER)]);
    await eventually(async () => client.received.length, (n) => n === 3);

    for (const { ack } of client.received) ack({ ok: true });
    await eventually(async () => realtime.unansweredEmits(), (n) => n === 0);
    // Every emit is answered, but the write of their outcomes has not come back.
    await eventually(async () => db.writes(), (n) => n > 0);
    expect(further.settled()).toBe(false);

    db.open();
    await further.promise;
    expect(db.recorded).toHaveLength(3);
  });

  it('lets a held batch go when the consumer stops, with its emits still unanswered', async () => {
    const { delivery, deliver } = await gateway({ gated: false });
    const held = deliver([job(USER), job(USER), job(USER)]);
    await eventually(async () => client.received.length, (n) => n === 3);
    expect(held.settled()).toBe(false);

    await delivery.onModuleDestroy();
    await held.promise;
    expect(realtime.unansweredEmits()).toBe(LIMIT);
  });
});
