import { eventually } from '@notify/testing';
import { RunningPlatform, uniqueId, type NotificationSocket } from './platform';

/** The titles a socket receives, and its acknowledgements held back until the test gives them. */
function holdingAcknowledgements(socket: NotificationSocket): { received: string[]; acks: (() => void)[] } {
  const received: string[] = [];
  const acks: (() => void)[] = [];
  socket.on('notification', (message, ack) => {
    received.push(message.title);
    acks.push(() => ack({ ok: true }));
  });
  return { received, acks };
}

/** A deploy of the gateway: SIGTERM while messages wait for their acknowledgements. */
describe('realtime gateway shutdown', () => {
  // The consumer's stop (its fetch's long poll) comes first and takes seconds: the acknowledgement must outlast it.
  const platform = new RunningPlatform({ GATEWAY_ACK_TIMEOUT_MS: '60000' });

  beforeAll(() => platform.start());
  afterAll(() => platform.stop());

  const browserStatus = async (requestId: string) =>
    (
      (await platform.db.query(
        `SELECT d.status FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id WHERE k.request_id = $1 AND d.channel = 'websocket'`,
        [requestId],
      )) as { status: string }[]
    )[0]?.status;

  /**
   * A user connected to the gateway on `port` (the consuming one when absent) who has received one
   * message and holds its acknowledgement; `acknowledge` gives it.
   */
  async function messageHeldBy(name: string, title: string, port?: number): Promise<{ requestId: string; acknowledge: () => void }> {
    const userId = uniqueId(name);
    const socket = await platform.connect(userId, port === undefined ? {} : { port });
    const { received, acks } = holdingAcknowledgements(socket);
    const requestId = uniqueId(name);
    await platform.produceRequest({ id: requestId, type: 'account.note', to: { userId }, channels: ['websocket'], content: { title } }, userId);
    await eventually(async () => received.length, (n) => n === 1);
    return { requestId, acknowledge: () => acks.forEach((ack) => ack()) };
  }

  it('relays the acknowledgements of another gateway’s emits still out when it shuts down', async () => {
    const edgePort = await platform.addEdgeGateway();
    // Connected to the edge gateway only: the consuming gateway's emit reaches it through the cluster.
    const { requestId, acknowledge } = await messageHeldBy('edge-deploy', 'through the cluster', edgePort);

    // The browser acknowledges as the edge gateway turns to close its connections.
    await platform.closeEdgeGateway(edgePort, acknowledge);

    expect(await eventually(() => browserStatus(requestId), (s) => s !== 'sent')).toBe('delivered');
  });

  it('publishes the acknowledgements it relays before it leaves, when its cluster connections are busy', async () => {
    const edgePort = await platform.addEdgeGateway();
    const { requestId, acknowledge } = await messageHeldBy('edge-busy', 'behind a queue', edgePort);

    // Two connections serve the adapter's queries besides its LISTEN one: the relayed acknowledgement
    // waits behind two of these statements for a connection, past the moment the gateway ends its pool.
    platform.busyEdgeClusterConnections(edgePort, 4, 1);
    await platform.closeEdgeGateway(edgePort, acknowledge);

    expect(await eventually(() => browserStatus(requestId), (s) => s !== 'sent')).toBe('delivered');
  });

  it('still delivers to its users while it waits for an acknowledgement another of them owes', async () => {
    const edgePort = await platform.addEdgeGateway();
    // One laptop owes an acknowledgement and holds the shutdown's wait; another user reads on.
    const { acknowledge } = await messageHeldBy('edge-sleeper', 'owed', edgePort);
    const reader = uniqueId('edge-reader');
    const { received } = await platform.connectAndCollect(reader, { port: edgePort });

    let waiting!: () => void;
    const shutdownStarted = new Promise<void>((resolve) => (waiting = resolve));
    const closed = platform.closeEdgeGateway(edgePort, waiting);
    await shutdownStarted;
    const requestId = uniqueId('edge-reader');
    await platform.produceRequest({ id: requestId, type: 'account.note', to: { userId: reader }, channels: ['websocket'], content: { title: 'while closing' } }, reader);

    // Delivered where the reader is, not `offline` for as long as the wait lasts.
    expect(await eventually(() => browserStatus(requestId), (s) => s !== undefined && s !== 'queued' && s !== 'sent')).toBe('delivered');
    expect(received.map((m) => m.title)).toEqual(['while closing']);
    acknowledge();
    await closed;
  });

  it('takes no new connection while it waits for the acknowledgements still out', async () => {
    const edgePort = await platform.addEdgeGateway();
    const { acknowledge } = await messageHeldBy('edge-closing', 'held while closing', edgePort);

    // A page loaded as the gateway turns to close: the acknowledgement still out holds it open meanwhile.
    let closed!: Promise<void>;
    const outcome = await new Promise<string>((resolve) => {
      closed = platform.closeEdgeGateway(edgePort, () => {
        platform.connect(uniqueId('late-comer'), { port: edgePort }).then(
          () => resolve('connected'),
          (error: Error) => resolve(`refused: ${error.message}`),
        );
      });
    });
    acknowledge();
    await closed;
    expect(outcome).toMatch(/^refused: /);
  });

  it('records the acknowledgements of the emits still out when it shuts down', async () => {
    const { requestId, acknowledge } = await messageHeldBy('deploy', 'during a deploy');

    // The browser acknowledges as the gateway, its consumer stopped, turns to close the connections.
    await platform.closeConsumingGateway(acknowledge);

    const rows = (await platform.db.query(
      `SELECT d.status, d.last_error FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id WHERE k.request_id = $1 AND d.channel = 'websocket'`,
      [requestId],
    )) as { status: string; last_error: string | null }[];
    expect(rows).toEqual([{ status: 'delivered', last_error: null }]);
  });
});
