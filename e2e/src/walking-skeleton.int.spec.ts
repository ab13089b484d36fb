import { io } from 'socket.io-client';
import { eventually } from '@notify/testing';
import { readDeadLetter } from './dead-letters';
import { RunningPlatform, uniqueId } from './platform';

describe('walking skeleton: Kafka request to an acknowledged Socket.IO notification', () => {
  const platform = new RunningPlatform();

  beforeAll(() => platform.start());
  afterAll(() => platform.stop());

  it('delivers a websocket notification to the connected user and records it as delivered', async () => {
    const userId = uniqueId('u');
    const requestId = uniqueId('order-shipped');
    const { received } = await platform.connectAndCollect(userId);

    await platform.produceRequest(
      {
        id: requestId,
        type: 'order.shipped',
        to: { userId },
        data: { orderNo: '1234' },
        content: { title: 'Your order shipped', body: 'Order 1234 is on its way' },
        channels: ['websocket'],
      },
      userId,
    );

    await eventually(async () => received.length, (n) => n > 0);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      seq: 1,
      type: 'order.shipped',
      title: 'Your order shipped',
      body: 'Order 1234 is on its way',
      data: { orderNo: '1234' },
    });

    const [delivery] = await eventually(
      () =>
        platform.db.query(
          `SELECT m.id AS message_id, d.status, d.attempts, d.delivered_at
             FROM messages m JOIN deliveries d ON d.message_id = m.id
            WHERE m.request_id = $1 AND d.channel = 'websocket'`,
          [requestId],
        ),
      (rows: { message_id: string; status: string; attempts: number; delivered_at: Date | null }[]) =>
        rows[0]?.status === 'delivered',
    );
    expect(delivery!.message_id).toBe(received[0]!.id);
    expect(delivery!.attempts).toBe(1);
    expect(delivery!.delivered_at).toBeInstanceOf(Date);
    expect(platform.fatalErrors).toEqual([]);
  });

  it('stores and shows a replayed request once', async () => {
    const userId = uniqueId('u');
    const { received } = await platform.connectAndCollect(userId);
    const request = { id: uniqueId('replayed'), type: 'account.note', to: { userId }, content: { title: 'once' } };
    await platform.produceRequest(request, userId);
    await eventually(async () => received.length, (n) => n === 1);
    await platform.produceRequest(request, userId);
    // Same key, same partition: once the marker arrives, the replay before it has been consumed.
    await platform.produceRequest({ id: uniqueId('marker'), type: 'account.note', to: { userId }, content: { title: 'marker' } }, userId);
    await eventually(async () => received.length, (n) => n >= 2);

    expect(received.map((m) => [m.title, m.seq])).toEqual([
      ['once', 1],
      ['marker', 2],
    ]);
    const [messages] = await platform.db.query(`SELECT count(*)::int AS n FROM messages WHERE request_id = $1`, [request.id]);
    expect(messages.n).toBe(1);
    // The default route: the browser, then vendor push, which this user has no device for.
    // The acknowledgement is recorded after it arrives, in a write of its own: it may come after the marker.
    const deliveries = await eventually(
      async () =>
        (await platform.db.query(
          `SELECT d.channel, d.status, d.last_error FROM deliveries d JOIN messages m ON m.id = d.message_id
            WHERE m.request_id = $1 ORDER BY d.channel DESC`,
          [request.id],
        )) as { channel: string; status: string; last_error: string | null }[],
      (rows) => rows[0]?.status !== 'sent',
    );
    expect(deliveries).toEqual([
      { channel: 'websocket', status: 'delivered', last_error: null },
      { channel: 'push', status: 'dead', last_error: 'no_endpoint' },
    ]);
  });

  it('copies an unparseable request unchanged to the DLQ with its reason, and keeps consuming', async () => {
    const userId = uniqueId('u');
    const { received } = await platform.connectAndCollect(userId);
    const garbage = `{"id": "broken-${userId}", "type": `;
    await platform.producer.send({ topic: 'notify.requests', messages: [{ key: userId, value: garbage, headers: { trace: 't-1' } }] });
    await platform.produceRequest({ id: uniqueId('after-garbage'), type: 'account.note', to: { userId }, content: { title: 'still flowing' } }, userId);
    await eventually(async () => received.length, (n) => n === 1);
    expect(received[0]!.title).toBe('still flowing');

    const dead = await readDeadLetter('notify.requests.dlq', userId);
    expect(dead.value).toBe(garbage);
    expect(dead.headers).toMatchObject({
      trace: 't-1',
      'x-error-code': 'invalid_json',
      'x-original-topic': 'notify.requests',
    });
    expect(dead.headers['x-error-reason']).toBeTruthy();
    expect(Number(dead.headers['x-original-offset'])).toBeGreaterThanOrEqual(0);
    expect(Number(dead.headers['x-original-partition'])).toBeGreaterThanOrEqual(0);
  });

  it('refuses a connection whose token was signed with another secret', async () => {
    const forged = io(`http://127.0.0.1:${platform.gatewayPort}/notifications`, {
      auth: { token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEiLCJleHAiOjQxMDI0NDQ4MDB9.c2lnbmVkLXdpdGgtYW5vdGhlci1zZWNyZXQ' },
      transports: ['websocket'],
      reconnection: false,
    });
    const error = await new Promise<Error>((resolve) => forged.once('connect_error', resolve));
    forged.disconnect();
    expect(error.message).toBe('invalid token');
  });
});
