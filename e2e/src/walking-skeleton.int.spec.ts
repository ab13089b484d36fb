import type { InboxMessage } from '@notify/contracts';
import { eventually } from '@notify/testing';
import { RunningPlatform, uniqueId } from './platform';

describe('walking skeleton: Kafka request to an acknowledged Socket.IO notification', () => {
  const platform = new RunningPlatform();

  beforeAll(() => platform.start());
  afterAll(() => platform.stop());

  it('delivers a websocket notification to the connected user and records it as delivered', async () => {
    const userId = uniqueId('u');
    const requestId = uniqueId('order-shipped');
    const socket = await platform.connect(userId);
    const received: InboxMessage[] = [];
    socket.on('notification', (message, ack) => {
      received.push(message);
      ack({ ok: true });
    });

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
});
