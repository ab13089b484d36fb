import { randomUUID } from 'node:crypto';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { eventually, startFakeApns, type FakeApns } from '@notify/testing';
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

  it('pings its session now and then, and keeps it while the pings are answered', async () => {
    await connection.close();
    connection = new ApnsConnection(fake.url, new RecordingLog(), undefined, { pingEveryMs: 100, answerWithinMs: 5_000 });
    expect((await push('d'.repeat(64))).status).toBe(200);
    await eventually(async () => fake.pings, (pings) => pings >= 2);
    expect((await push('d'.repeat(64))).status).toBe(200);
    expect(fake.sessionsOpened).toBe(1);
  });

  it('drops a session whose ping goes unanswered (an idle connection a NAT forgot), before a push is lost on it', async () => {
    const link = await silenceableLink(new URL(fake.url).port);
    const log = new RecordingLog();
    await connection.close();
    connection = new ApnsConnection(link.url, log, undefined, { pingEveryMs: 100, answerWithinMs: 200 });
    try {
      expect((await push('e'.repeat(64))).status).toBe(200);
      // The route drops every packet from now on, with no reset: only the ping notices.
      link.silence();
      await eventually(async () => log.lines.filter((line) => line.fields['event'] === 'ping_unanswered').length, (n) => n === 1);
      link.restore();
      expect((await push('e'.repeat(64))).status).toBe(200);
      expect(fake.sessionsOpened).toBe(2);
    } finally {
      await connection.close();
      await link.close();
    }
  });

  it('lets the pushes under way on a session that reached its budget finish there', async () => {
    await connection.close();
    connection = new ApnsConnection(fake.url, new RecordingLog(), 10);
    const answers = await Promise.all(Array.from({ length: 35 }, (_, index) => push(index.toString(16).padStart(64, '0'))));
    expect(answers.map((answer) => answer.status)).toEqual(Array.from({ length: 35 }, () => 200));
    expect(fake.sessionsOpened).toBe(4);
  });
});

/**
 * A TCP link to 127.0.0.1:`port` whose connections made so far can be silenced: their bytes are
 * dropped both ways from then on, without a reset, as a NAT that forgot them does. Connections made
 * after `restore()` carry their bytes.
 */
async function silenceableLink(port: string) {
  const pairs: { client: Socket; server: Socket; silenced: boolean }[] = [];
  let silent = false;
  const link = createServer((client) => {
    const pair = { client, server: createConnection(Number(port), '127.0.0.1'), silenced: silent };
    pairs.push(pair);
    client.on('data', (chunk) => void (pair.silenced || pair.server.write(chunk)));
    pair.server.on('data', (chunk) => void (pair.silenced || client.write(chunk)));
    for (const socket of [client, pair.server]) socket.on('error', () => undefined);
    client.on('close', () => pair.server.destroy());
    pair.server.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => link.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(link.address() as AddressInfo).port}`,
    silence: () => pairs.forEach((pair) => (pair.silenced = true)),
    restore: () => void (silent = false),
    close: () => {
      for (const pair of pairs) pair.client.destroy();
      return new Promise<void>((resolve) => link.close(() => resolve()));
    },
  };
}
