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

  it('keeps its session when a signal is aborted after the answer arrived', async () => {
    const jwt = new ApnsProviderToken(fake.signingKey, fake.teamId, fake.keyId, 50 * 60_000, systemClock).get();
    const content = { title: 't', body: 'b' };
    const statuses: number[] = [];
    for (let round = 0; round < 15; round += 1) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, async (_, index) => {
          const token = (round * 100 + index).toString(16).padStart(64, '0');
          const controller = new AbortController();
          const answer = await connection.request(apnsHeaders(token, content, fake.topic, jwt, randomUUID()), apnsPayload(content), controller.signal);
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
    const jwt = new ApnsProviderToken(fake.signingKey, fake.teamId, fake.keyId, 50 * 60_000, systemClock).get();
    const content = { title: 't', body: 'b' };
    fake.failNext({ status: 200, reason: 'late', delayMs: 5_000 });
    const controller = new AbortController();
    const pending = connection.request(apnsHeaders('a'.repeat(64), content, fake.topic, jwt, randomUUID()), apnsPayload(content), controller.signal);
    setImmediate(() => controller.abort());
    await expect(pending).rejects.toMatchObject({ code: 'network' });
    const after = await connection.request(apnsHeaders('a'.repeat(64), content, fake.topic, jwt, randomUUID()), apnsPayload(content), new AbortController().signal);
    expect(after.status).toBe(200);
    expect(fake.sessionsOpened).toBe(1);
  });

  it('opens a new session after three pushes in a row went unanswered on the old one', async () => {
    const jwt = new ApnsProviderToken(fake.signingKey, fake.teamId, fake.keyId, 50 * 60_000, systemClock).get();
    const content = { title: 't', body: 'b' };
    const push = (signal: AbortSignal) => connection.request(apnsHeaders('b'.repeat(64), content, fake.topic, jwt, randomUUID()), apnsPayload(content), signal);
    fake.failNext({ status: 200, reason: 'late', delayMs: 5_000 }, 3);
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      const pending = push(controller.signal);
      setImmediate(() => controller.abort());
      await expect(pending).rejects.toMatchObject({ code: 'network' });
    }
    expect((await push(new AbortController().signal)).status).toBe(200);
    expect(fake.sessionsOpened).toBe(2);
  });

  it('goes on with pushes on a new session once the old one has carried its budget of requests', async () => {
    await connection.close();
    connection = new ApnsConnection(fake.url, new RecordingLog(), 1);
    const jwt = new ApnsProviderToken(fake.signingKey, fake.teamId, fake.keyId, 50 * 60_000, systemClock).get();
    const content = { title: 't', body: 'b' };
    const push = () => connection.request(apnsHeaders('c'.repeat(64), content, fake.topic, jwt, randomUUID()), apnsPayload(content), new AbortController().signal);
    expect((await push()).status).toBe(200);
    expect((await push()).status).toBe(200);
    expect(fake.sessionsOpened).toBe(2);
    expect(fake.pushes).toHaveLength(2);
  });

  it('lets the pushes under way on a session that reached its budget finish there', async () => {
    await connection.close();
    connection = new ApnsConnection(fake.url, new RecordingLog(), 10);
    const jwt = new ApnsProviderToken(fake.signingKey, fake.teamId, fake.keyId, 50 * 60_000, systemClock).get();
    const content = { title: 't', body: 'b' };
    const answers = await Promise.all(
      Array.from({ length: 35 }, (_, index) =>
        connection.request(apnsHeaders(index.toString(16).padStart(64, '0'), content, fake.topic, jwt, randomUUID()), apnsPayload(content), new AbortController().signal),
      ),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 35 }, () => 200));
    expect(fake.sessionsOpened).toBe(4);
  });
});
