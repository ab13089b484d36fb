import { randomUUID } from 'node:crypto';
import { startFakeApns, type FakeApns } from '@notify/testing';
import { RecordingLog } from '../../../test/recording-log';
import { systemClock } from '../../ports';
import { ApnsConnection } from './apns-connection';
import { ApnsProviderToken } from './apns-provider-token';
import { apnsHeaders, apnsPayload } from './apns-request';

describe('APNs connection', () => {
  let fake: FakeApns;
  let connection: ApnsConnection;

  beforeEach(async () => {
    fake = await startFakeApns();
    connection = new ApnsConnection(fake.url, new RecordingLog());
  });

  afterEach(async () => {
    await connection.close();
    await fake.close();
  });

  const content = { title: 't', body: 'b' };
  /** One push to `token` on the connection under test. */
  const push = (token: string, signal = new AbortController().signal) => {
    const jwt = new ApnsProviderToken(fake.signingKey, fake.teamId, fake.keyId, 50 * 60_000, systemClock).get();
    return connection.request(apnsHeaders(token, content, fake.topic, jwt, randomUUID()), apnsPayload(content), signal);
  };

  it('keeps its session when a signal is aborted after the answer arrived', async () => {
    const statuses: number[] = [];
    for (let round = 0; round < 15; round += 1) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, async (_, index) => {
          const token = (round * 100 + index).toString(16).padStart(64, '0');
          const controller = new AbortController();
          const answer = await push(token, controller.signal);
          // What a guard does when its call returns: the stream is finished and must stay untouched.
          controller.abort();
          return answer.status;
        }),
      );
      statuses.push(...answers);
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(1500);
    expect(fake.sessionsOpened).toBe(1);
  });

  it('cancels a stream whose signal aborts before the answer', async () => {
    fake.failNext({ status: 200, reason: 'late', delayMs: 5_000 });
    const controller = new AbortController();
    const pending = push('a'.repeat(64), controller.signal);
    setImmediate(() => controller.abort());
    await expect(pending).rejects.toMatchObject({ code: 'network' });
    const after = await push('a'.repeat(64));
    expect(after.status).toBe(200);
    expect(fake.sessionsOpened).toBe(1);
  });

  it('opens a new session after three pushes in a row went unanswered on the old one', async () => {
    fake.failNext({ status: 200, reason: 'late', delayMs: 5_000 }, 3);
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const pending = push('b'.repeat(64), controller.signal);
      setImmediate(() => controller.abort());
      await expect(pending).rejects.toMatchObject({ code: 'network' });
    }
    expect((await push('b'.repeat(64))).status).toBe(200);
    expect(fake.sessionsOpened).toBe(2);
  });

  it('goes on with pushes on a new session once the old one has carried its budget of requests', async () => {
    await connection.close();
    connection = new ApnsConnection(fake.url, new RecordingLog(), 1);
    expect((await push('c'.repeat(64))).status).toBe(200);
    expect((await push('c'.repeat(64))).status).toBe(200);
    expect(fake.sessionsOpened).toBe(2);
    expect(fake.pushes).toHaveLength(2);
  });

  it('lets the pushes under way on a session that reached its budget finish there', async () => {
    await connection.close();
    connection = new ApnsConnection(fake.url, new RecordingLog(), 10);
    const answers = await Promise.all(Array.from({ length: 35 }, (_, index) => push(index.toString(16).padStart(64, '0'))));
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 35 }, () => 200));
    expect(fake.sessionsOpened).toBe(4);
  });
});
