import { generateKeyPairSync } from 'node:crypto';
import { eventually, ManualClock, startFakeFcm, type FakeFcm } from '@notify/testing';
import { failureOf } from '../../../test/outcome';
import { RecordingLog } from '../../../test/recording-log';
import { createPushProvider } from '../../factories';
import type { PushChannelProvider, PushContent } from '../../ports';

const TOKEN = 'fcm-token-0123456789:APA91bHun4MxP5egoKMwt2KZFBaFUH';
const OTHER = 'fcm-token-9876543210:APA91bXyz0000000000000000000000';
const content: PushContent = { title: 'Your order shipped', body: 'Order 1234 is on its way', data: { orderNo: '1234' }, priority: 'high' };

describe('FCM provider', () => {
  let fake: FakeFcm;
  let provider: PushChannelProvider;
  let clock: ManualClock;
  let log: RecordingLog;

  async function start(options: { lifetimeSeconds?: number; serviceAccountJson?: string } = {}): Promise<void> {
    clock = new ManualClock(Date.now());
    log = new RecordingLog();
    fake = await startFakeFcm({ now: () => clock.now(), ...(options.lifetimeSeconds === undefined ? {} : { accessTokenLifetimeSeconds: options.lifetimeSeconds }) });
    provider = createPushProvider({ driver: 'fcm', baseUrl: fake.url, serviceAccountJson: options.serviceAccountJson ?? fake.serviceAccountJson }, { log, clock });
  }

  afterEach(async () => {
    await provider.close();
    await fake.close();
  });

  it('sends an HTTP v1 message and returns its name', async () => {
    await start();
    const receipt = await provider.send({ token: TOKEN, content: { ...content, collapseKey: 'order-1234' } });
    expect(receipt.providerMessageId).toMatch(new RegExp(`^projects/${fake.projectId}/messages/`));
    expect(fake.messages).toHaveLength(1);
    expect(fake.messages[0]?.message).toMatchObject({
      token: TOKEN,
      notification: { title: content.title, body: content.body },
      data: { orderNo: '1234' },
      android: { priority: 'HIGH', notification: { tag: 'order-1234' } },
      apns: { headers: { 'apns-collapse-id': 'order-1234' } },
    });
    // Android's collapse_key would count against FCM's four per device: an offline phone kept only four messages.
    expect((fake.messages[0]?.message['android'] as Record<string, unknown>)['collapse_key']).toBeUndefined();
  });

  it('sends a shown notification of normal priority at Android’s HIGH, as APNs at 10; low, and silent ones of normal priority, at NORMAL', async () => {
    await start();
    const sent: [PushContent['priority'], boolean][] = [['normal', false], ['low', false], ['normal', true], ['high', true]];
    for (const [priority, silent] of sent) await provider.send({ token: TOKEN, content: { ...content, priority, silent } });
    const android = fake.messages.map((m) => (m.message['android'] as { priority: string }).priority);
    const apns = fake.messages.map((m) => (m.message['apns'] as { headers: Record<string, string> }).headers['apns-priority']);
    expect(android).toEqual(['HIGH', 'NORMAL', 'NORMAL', 'HIGH']);
    expect(apns).toEqual(['10', '5', '5', '5']);
  });

  it('keeps a message expiring beyond four weeks for the four weeks FCM allows, instead of being refused', async () => {
    await start();
    const receipt = await provider.send({ token: TOKEN, content: { ...content, expiresAt: new Date(clock.now() + 60 * 86_400_000) } });
    expect(receipt.providerMessageId).toMatch(/messages/);
    expect(fake.messages[0]?.message).toMatchObject({ android: { ttl: '2419200s' } });
  });

  it('gets one access token from the service account and reuses it until shortly before it expires', async () => {
    await start({ lifetimeSeconds: 600 });
    await provider.sendMany({ tokens: [TOKEN, OTHER, TOKEN], content });
    expect(fake.accessTokensIssued).toBe(1);
    clock.advance(539_000);
    await provider.send({ token: TOKEN, content });
    expect(fake.accessTokensIssued).toBe(1);
    // within the minute before it expires: refreshed beside the send, which goes with the old one
    clock.advance(2_000);
    await provider.send({ token: TOKEN, content });
    await eventually(async () => fake.accessTokensIssued, (issued) => issued === 2);
    expect(fake.messages).toHaveLength(5);
  });

  it('fetches a new access token once when FCM answers 401', async () => {
    await start();
    await provider.send({ token: TOKEN, content });
    fake.revokeAccessTokens();
    await provider.send({ token: TOKEN, content });
    expect(fake.accessTokensIssued).toBe(2);
    expect(fake.messages).toHaveLength(2);
  });

  it('keeps its access token when a 401 is about the APNs key set up in Firebase (THIRD_PARTY_AUTH_ERROR)', async () => {
    await start();
    await provider.send({ token: TOKEN, content });
    fake.failNext({ status: 401, errorCode: 'THIRD_PARTY_AUTH_ERROR' });
    expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({ kind: 'configuration', code: 'bad_credentials', vendorCode: 'THIRD_PARTY_AUTH_ERROR' });
    expect(fake.accessTokensIssued).toBe(1);
  });

  it('maps UNREGISTERED to a permanent error that deactivates the token', async () => {
    await start();
    fake.unregister(TOKEN);
    expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({
      kind: 'permanent',
      code: 'endpoint_gone',
      vendorCode: 'UNREGISTERED',
      status: 404,
      deactivateToken: true,
    });
  });

  it('maps INVALID_ARGUMENT about the token to a permanent error that deactivates it', async () => {
    await start();
    fake.markInvalid(TOKEN);
    expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({ kind: 'permanent', code: 'invalid_endpoint', deactivateToken: true });
  });

  it('maps INVALID_ARGUMENT about the message to a rejection that keeps the token', async () => {
    await start();
    fake.failNext({ status: 400, errorCode: 'INVALID_ARGUMENT' });
    expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({ kind: 'permanent', code: 'rejected', deactivateToken: false });
  });

  it('maps QUOTA_EXCEEDED to a transient error carrying Retry-After', async () => {
    await start();
    fake.failNext({ status: 429, errorCode: 'QUOTA_EXCEEDED', retryAfterSeconds: 17 });
    expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({ kind: 'transient', code: 'rate_limited', retryAfterMs: 17_000 });
  });

  it('puts off only the device when QUOTA_EXCEEDED is its own message rate, which opens no circuit for every other device', async () => {
    await start();
    fake.failNext({ status: 429, errorCode: 'QUOTA_EXCEEDED', message: 'Device message rate exceeded.', retryAfterSeconds: 30 });
    expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({ kind: 'transient', code: 'deferred', retryAfterMs: 30_000 });
  });

  it('maps UNAVAILABLE to a transient error', async () => {
    await start();
    fake.failNext({ status: 503, errorCode: 'UNAVAILABLE', retryAfterSeconds: 5 });
    expect(await failureOf(provider.send({ token: TOKEN, content }))).toMatchObject({ kind: 'transient', code: 'unavailable', retryAfterMs: 5_000 });
  });

  it('maps a service account key the token endpoint refuses to a configuration error, logged without the key', async () => {
    await start();
    const foreignKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const forged = JSON.stringify({ ...(JSON.parse(fake.serviceAccountJson) as Record<string, unknown>), private_key: foreignKey });
    await provider.close();
    provider = createPushProvider({ driver: 'fcm', baseUrl: fake.url, serviceAccountJson: forged }, { log, clock });
    const failure = await failureOf(provider.send({ token: TOKEN, content }));
    expect(failure).toMatchObject({ kind: 'configuration', code: 'bad_credentials', vendorCode: 'invalid_grant', status: 400 });
    expect(fake.messages).toHaveLength(0);
    const keyLine = foreignKey.split('\n')[1] ?? 'missing';
    expect(log.text).toContain('provider_configuration');
    expect(log.text).not.toContain(keyLine);
    expect(log.text).not.toContain(TOKEN);
  });

  it('refuses a service account file that is not one, naming the fields and not the content', () => {
    let message = '';
    try {
      createPushProvider({ driver: 'fcm', serviceAccountJson: JSON.stringify({ project_id: 'p', private_key: 'secret-material' }) });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('client_email');
    expect(message).not.toContain('secret-material');
  });
});
