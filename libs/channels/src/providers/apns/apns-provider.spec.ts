import { generateKeyPairSync } from 'node:crypto';
import { ManualClock, startFakeApns, type FakeApns } from '@notify/testing';
import { failureOf } from '../../../test/outcome';
import { RecordingLog } from '../../../test/recording-log';
import { createPushProvider } from '../../factories';
import type { ProviderLimitsInput } from '../../factories';
import type { PushChannelProvider, PushContent } from '../../ports';

const TOKEN = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);
const content: PushContent = { title: 'Your order shipped', body: 'Order 1234 is on its way', data: { orderNo: '1234' } };
const MINUTE = 60_000;

describe('APNs provider', () => {
  let fake: FakeApns;
  let provider: PushChannelProvider;
  let clock: ManualClock;
  let log: RecordingLog;

  async function start(limits: ProviderLimitsInput = {}, signingKey?: string): Promise<void> {
    clock = new ManualClock(Date.now());
    log = new RecordingLog();
    fake = await startFakeApns({ now: () => clock.now() });
    provider = createPushProvider(
      { driver: 'apns', baseUrl: fake.url, teamId: fake.teamId, keyId: fake.keyId, topic: fake.topic, signingKey: signingKey ?? fake.signingKey, limits },
      { log, clock },
    );
  }

  afterEach(async () => {
    await provider.close();
    await fake.close();
  });

  it('sends an alert with the topic, push type, priority, collapse id and expiration headers', async () => {
    await start();
    const expiresAt = new Date(clock.now() + 3_600_000);
    const receipt = await provider.send({ token: TOKEN, content: { ...content, collapseKey: 'order-1234', expiresAt, badge: 3 } });
    expect(fake.pushes).toHaveLength(1);
    const [push] = fake.pushes;
    expect(receipt.providerMessageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(push?.headers['apns-id']).toBe(receipt.providerMessageId);
    expect(push?.token).toBe(TOKEN);
    expect(push?.headers).toMatchObject({
      'apns-topic': fake.topic,
      'apns-push-type': 'alert',
      'apns-priority': '10',
      'apns-collapse-id': 'order-1234',
      'apns-expiration': String(Math.floor(expiresAt.getTime() / 1000)),
    });
    expect(push?.payload).toEqual({ orderNo: '1234', aps: { alert: { title: content.title, body: content.body }, badge: 3 } });
  });

  it('sends a silent push as background with priority 5', async () => {
    await start();
    await provider.send({ token: TOKEN, content: { ...content, silent: true } });
    expect(fake.pushes[0]?.headers).toMatchObject({ 'apns-push-type': 'background', 'apns-priority': '5' });
    expect(fake.pushes[0]?.payload).toMatchObject({ aps: { 'content-available': 1 } });
  });

  it('reuses one HTTP/2 session and one provider token until the token is 50 minutes old', async () => {
    await start();
    await provider.send({ token: TOKEN, content });
    clock.advance(49 * MINUTE);
    await provider.sendMany({ tokens: [TOKEN, OTHER, TOKEN], content });
    expect(fake.pushes).toHaveLength(4);
    expect(fake.providerTokens).toHaveLength(1);
    expect(fake.sessionsOpened).toBe(1);
    clock.advance(2 * MINUTE);
    await provider.send({ token: TOKEN, content });
    expect(fake.providerTokens).toHaveLength(2);
    expect(fake.sessionsOpened).toBe(1);
  });

  it('renews the provider token once when APNs calls it expired', async () => {
    await start();
    await provider.send({ token: TOKEN, content });
    fake.expireProviderTokens();
    await provider.send({ token: TOKEN, content });
    expect(fake.pushes).toHaveLength(2);
    expect(fake.providerTokens).toHaveLength(2);
  });

  it('opens a new session after APNs sends GOAWAY', async () => {
    await start();
    await provider.send({ token: TOKEN, content });
    await fake.dropSessions();
    await provider.send({ token: TOKEN, content });
    expect(fake.pushes).toHaveLength(2);
    expect(fake.sessionsOpened).toBe(2);
  });

  it('sends a push again at once when APNs refuses its stream (REFUSED_STREAM, as for streams past a GOAWAY), twice at most, then gives it back unsent', async () => {
    await start();
    fake.refuseNext(2);
    const receipt = await provider.send({ token: TOKEN, content });
    expect(receipt.providerMessageId).toEqual(expect.any(String));
    expect([fake.refused, fake.pushes.length]).toEqual([2, 1]);

    fake.refuseNext(3);
    const failure = await failureOf(provider.send({ token: TOKEN, content }));
    // Never looked at: no attempt spent, nothing counted against APNs, due again at once.
    expect(failure).toMatchObject({ kind: 'transient', code: 'overloaded', retryAfterMs: 0 });
    expect([fake.refused, fake.pushes.length]).toEqual([5, 1]);
  });

  it('maps 400 BadDeviceToken to a permanent error that deactivates the token', async () => {
    await start();
    fake.markBad(TOKEN);
    const failure = await failureOf(provider.send({ token: TOKEN, content }));
    expect(failure).toMatchObject({ kind: 'permanent', code: 'invalid_endpoint', vendorCode: 'BadDeviceToken', status: 400, deactivateToken: true });
    expect(failure.message).not.toContain(TOKEN);
  });

  it('maps 410 Unregistered to a permanent error that deactivates the token', async () => {
    await start();
    fake.unregister(TOKEN);
    const failure = await failureOf(provider.send({ token: TOKEN, content }));
    expect(failure).toMatchObject({ kind: 'permanent', code: 'endpoint_gone', vendorCode: 'Unregistered', status: 410, deactivateToken: true });
  });

  it('refuses a token that is not hexadecimal without calling APNs', async () => {
    await start();
    const failure = await failureOf(provider.send({ token: '../../3/device/x?y', content }));
    expect(failure).toMatchObject({ code: 'invalid_endpoint', deactivateToken: true });
    expect(fake.providerTokens).toHaveLength(0);
  });

  it('maps 429 TooManyRequests, too many pushes to one device, to a deferral of that device carrying Retry-After', async () => {
    await start();
    fake.failNext({ status: 429, reason: 'TooManyRequests', retryAfterSeconds: 30 });
    const failure = await failureOf(provider.send({ token: TOKEN, content }));
    expect(failure).toMatchObject({ kind: 'transient', code: 'deferred', retryAfterMs: 30_000, deactivateToken: false });
  });

  it('keeps sending to other devices while one device is throttled: no circuit opens', async () => {
    await start({ breakerFailures: 3 });
    fake.failNext({ status: 429, reason: 'TooManyRequests' }, 3);
    for (let i = 0; i < 3; i += 1) expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({ code: 'deferred' });
    await expect(provider.send({ token: OTHER, content })).resolves.toHaveProperty('providerMessageId');
    expect(fake.pushes.map((push) => push.token)).toEqual([OTHER]);
  });

  it('maps 503 ServiceUnavailable to a transient error', async () => {
    await start();
    fake.failNext({ status: 503, reason: 'ServiceUnavailable' });
    expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({ kind: 'transient', code: 'unavailable', status: 503 });
    await expect(provider.send({ token: TOKEN, content })).resolves.toHaveProperty('providerMessageId');
  });

  it('maps a token signed with the wrong key to a configuration error, logged without the key', async () => {
    const foreignKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await start({}, foreignKey);
    const failure = await failureOf(provider.send({ token: TOKEN, content }));
    expect(failure).toMatchObject({ kind: 'configuration', code: 'bad_credentials', vendorCode: 'InvalidProviderToken', status: 403 });
    expect(log.lines.some((line) => line.fields['alert'] === 'provider_configuration')).toBe(true);
    const keyBody = foreignKey.split('\n')[1] ?? 'missing';
    expect(log.text).not.toContain(keyBody);
    expect(log.text).not.toContain(TOKEN);
    expect(JSON.stringify(failure)).not.toContain(keyBody);
  });

  it('returns one result per token from sendMany, failures included', async () => {
    await start();
    fake.unregister(OTHER);
    const results = await provider.sendMany({ tokens: [TOKEN, OTHER], content });
    expect(results.map((result) => [result.token, result.receipt === undefined ? result.error.code : 'sent'])).toEqual([
      [TOKEN, 'sent'],
      [OTHER, 'endpoint_gone'],
    ]);
  });

  it('times out a push APNs does not answer', async () => {
    await start({ timeoutMs: 200 });
    fake.failNext({ status: 200, reason: 'late', delayMs: 5_000 });
    expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({ kind: 'transient', code: 'timeout' });
  });

  it('opens its circuit after repeated 503s and closes it once APNs recovers', async () => {
    jest.useFakeTimers({
      doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
    });
    try {
      await start({ breakerFailures: 3, breakerHalfOpenAfterMs: 10_000 });
      fake.failNext({ status: 503, reason: 'ServiceUnavailable' }, 3);
      for (let i = 0; i < 3; i += 1) await failureOf(provider.send({ token: TOKEN, content }));
      expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({ code: 'circuit_open' });
      expect(fake.pushes).toHaveLength(0);
      jest.setSystemTime(Date.now() + 10_001);
      await provider.send({ token: TOKEN, content });
      await provider.send({ token: TOKEN, content });
      expect(fake.pushes).toHaveLength(2);
    } finally {
      jest.useRealTimers();
    }
  });
});
