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
  const platform = new RunningPlatform({ GATEWAY_ACK_TIMEOUT_MS: '60000', GATEWAY_GROUP: uniqueId('e2e-gateway-shutdown') });

  beforeAll(() => platform.start());
  afterAll(() => platform.stop());

  const browserStatus = async (requestId: string) =>
    (
      (await platform.db.query(
        `SELECT d.status FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id WHERE k.request_id = $1 AND d.channel = 'websocket'`,
        [requestId],
      )) as { status: string }[]
    )[0]?.status;

  it('relays the acknowledgements of another gateway’s emits still out when it shuts down', async () => {
    const edgePort = await platform.addEdgeGateway();
    const userId = uniqueId('edge-deploy');
    // Connected to the edge gateway only: the consuming gateway's emit reaches it through the cluster.
    const socket = await platform.connect(userId, { port: edgePort });
    const { received, acks } = holdingAcknowledgements(socket);
    const requestId = uniqueId('edge-deploy');
    await platform.produceRequest({ id: requestId, type: 'account.note', to: { userId }, channels: ['websocket'], content: { title: 'through the cluster' } }, userId);
    await eventually(async () => received.length, (n) => n === 1);

    // The browser acknowledges as the edge gateway turns to close its connections.
    await platform.closeEdgeGateway(edgePort, () => acks.forEach((ack) => ack()));

    expect(await eventually(() => browserStatus(requestId), (s) => s !== 'sent')).toBe('delivered');
  });

  it('publishes the acknowledgements it relays before it leaves, when its cluster connections are busy', async () => {
    const edgePort = await platform.addEdgeGateway();
    const userId = uniqueId('edge-busy');
    const socket = await platform.connect(userId, { port: edgePort });
    const { received, acks } = holdingAcknowledgements(socket);
    const requestId = uniqueId('edge-busy');
    await platform.produceRequest({ id: requestId, type: 'account.note', to: { userId }, channels: ['websocket'], content: { title: 'behind a queue' } }, userId);
    await eventually(async () => received.length, (n) => n === 1);

    // Two connections serve the adapter's queries besides its LISTEN one: the relayed acknowledgement
    // waits behind two of these statements for a connection, past the moment the gateway ends its pool.
    platform.busyEdgeClusterConnections(edgePort, 4, 1);
    await platform.closeEdgeGateway(edgePort, () => acks.forEach((ack) => ack()));

    expect(await eventually(() => browserStatus(requestId), (s) => s !== 'sent')).toBe('delivered');
  });

  it('records the acknowledgements of the emits still out when it shuts down', async () => {
    const userId = uniqueId('deploy');
    const socket = await platform.connect(userId);
    const { received, acks } = holdingAcknowledgements(socket);
    const requestId = uniqueId('deploy');
    await platform.produceRequest({ id: requestId, type: 'account.note', to: { userId }, channels: ['websocket'], content: { title: 'during a deploy' } }, userId);
    await eventually(async () => received.length, (n) => n === 1);

    // The browser acknowledges as the gateway, its consumer stopped, turns to close the connections.
    await platform.closeConsumingGateway(() => acks.forEach((ack) => ack()));

    const rows = (await platform.db.query(
      `SELECT d.status, d.last_error FROM deliveries d JOIN request_keys k ON k.message_id = d.message_id WHERE k.request_id = $1 AND d.channel = 'websocket'`,
      [requestId],
    )) as { status: string; last_error: string | null }[];
    expect(rows).toEqual([{ status: 'delivered', last_error: null }]);
  });
});
