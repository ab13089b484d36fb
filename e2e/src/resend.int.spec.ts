import type { INestApplication } from '@nestjs/common';
import { loadSchedulerConfig } from '@notify/config';
import type { InboxMessage } from '@notify/contracts';
import { createLogger } from '@notify/observability';
import { startScheduler } from '@notify/scheduler';
import { eventually } from '@notify/testing';
import { ownDatabase } from './own-database';
import { RunningPlatform, uniqueId } from './platform';

/**
 * The resend poller with the browser module as the client: one batch per receiver, each message shown
 * once. On a database of the suite's own (`ownDatabase`): the scheduler's clock moves two hours ahead,
 * which in the run's shared one made due whatever earlier suites left pending.
 */
describe('resend batched per receiver', () => {
  const database = ownDatabase();
  const platform = new RunningPlatform({ GATEWAY_ACK_TIMEOUT_MS: '5000' }, database.url);
  let clockOffsetMs = 0;
  let scheduler: INestApplication;

  beforeAll(async () => {
    await platform.start();
    const env = { ...process.env, DATABASE_URL: database.url(), SCHEDULER_PORT: '0', SCHEDULER_POLL_INTERVAL_MS: '200' };
    // The longest backoff the policy allows, and the poller's clock stopped until the test moves it,
    // so nothing is resent before then however slow the machine (message 1's 30 s backoff ran out
    // on a real clock while the other nine were produced).
    const stoppedAt = Date.now();
    scheduler = await startScheduler(loadSchedulerConfig(env), createLogger('e2e', 'warn'), {
      clock: () => new Date(clockOffsetMs === 0 ? stoppedAt : Date.now() + clockOffsetMs),
      random: () => 0.999,
    });
  });
  afterAll(async () => {
    await scheduler?.close();
    await platform.stop();
    await database.drop();
  });

  const websocketRows = (userId: string) =>
    platform.db.query(
      `SELECT status, next_attempt_at FROM deliveries WHERE user_id = $1 AND channel = 'websocket' ORDER BY seq`,
      [userId],
    ) as Promise<{ status: string; next_attempt_at: Date | null }[]>;

  it('sends a receiver’s 10 pending messages as one acknowledged batch, and the client shows each once', async () => {
    const userId = uniqueId('resend');
    const note = (title: string) =>
      platform.produceRequest({ id: uniqueId('r'), type: 'account.note', to: { userId }, channels: ['websocket'], content: { title } }, userId);
    // Every message the page would show, as it hands them over.
    const shown: string[] = [];
    const connectInbox = () => platform.connectInbox(userId, shown);

    const inbox = connectInbox();
    await eventually(async () => inbox.lastSeq, (seq) => seq === 0 && (inbox as unknown as { socket: { connected: boolean } }).socket.connected);
    await note('message 1');
    await eventually(() => websocketRows(userId), (rows) => rows[0]?.status === 'delivered');
    // The client stored message 1 but its acknowledgement was lost on the way back.
    await platform.db.query(`UPDATE deliveries SET status = 'failed', last_error = 'ack_timeout', next_attempt_at = NULL WHERE user_id = $1`, [userId]);
    inbox.disconnect();

    for (let i = 2; i <= 10; i++) await note(`message ${i}`);
    const pending = await eventually(() => websocketRows(userId), (rows) => rows.length === 10 && rows.every((r) => r.status === 'failed' && r.next_attempt_at));
    expect(pending).toHaveLength(10);

    shown.length = 0;
    const again = connectInbox();
    const batches: InboxMessage[][] = [];
    const batchArrivals: number[] = [];
    (again as unknown as { socket: { on: (e: string, f: (m: InboxMessage[]) => void) => void } }).socket.on('notifications', (messages) => {
      batches.push(messages);
      batchArrivals.push(Date.now());
    });
    await eventually(async () => again.lastSeq, (seq) => seq === 10);

    // Their backoff holds them until the poller's clock has moved past it.
    const movedAt = Date.now();
    clockOffsetMs = 2 * 3_600_000;
    await eventually(async () => batches.length, (n) => n === 1);
    expect(batchArrivals[0]).toBeGreaterThanOrEqual(movedAt);
    expect(batches[0]!.map((m) => m.title)).toEqual(Array.from({ length: 10 }, (_, i) => `message ${i + 1}`));
    const delivered = await eventually(() => websocketRows(userId), (rows) => rows.every((r) => r.status === 'delivered'));
    expect(delivered).toHaveLength(10);
    // The sync showed the 10 once; the batch that followed, all of them again, showed none a second time.
    expect(shown).toEqual(Array.from({ length: 10 }, (_, i) => `message ${i + 1}`));
    expect(again.list().map((m) => m.title)).toEqual(Array.from({ length: 10 }, (_, i) => `message ${i + 1}`));
    again.disconnect();
  });
});
