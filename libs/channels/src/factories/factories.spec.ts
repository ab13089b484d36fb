import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PROVIDER_LIMITS } from '../ports';
import { ChannelConfigError } from './channel-config-error';
import { resolveLimits } from './limits-config';
import { createPushProvider, createPushProviders } from './push-factory';
import { createEmailProvider } from './email-factory';
import { createSmsProvider } from './sms-factory';

const signingKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

function configErrorOf(build: () => unknown): ChannelConfigError {
  try {
    build();
  } catch (error) {
    if (error instanceof ChannelConfigError) return error;
    throw error;
  }
  throw new Error('expected a ChannelConfigError');
}

describe('channel factories', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'channels-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('build the log driver when nothing is configured', () => {
    expect([createPushProvider().id, createSmsProvider().id, createEmailProvider().id]).toEqual(['log', 'log', 'log']);
  });

  it('build a push provider per device vendor, log for those not configured', async () => {
    const providers = createPushProviders({ apns: { driver: 'apns', teamId: 'T', keyId: 'K', topic: 'com.example', signingKey } });
    expect(Object.fromEntries(Object.entries(providers).map(([vendor, provider]) => [vendor, provider.id]))).toEqual({
      apns: 'apns',
      fcm: 'log',
      hms: 'log',
      xiaomi: 'log',
    });
    await Promise.all(Object.values(providers).map((provider) => provider.close()));
  });

  it('list every problem of an invalid configuration, without its values', () => {
    const error = configErrorOf(() => createPushProvider({ driver: 'apns', keyId: 'K', signingKey: 'TOP-SECRET-KEY' } as never));
    expect(error.code).toBe('invalid_channel_config');
    expect(error.problems.map((problem) => problem.split(':')[0])).toEqual(expect.arrayContaining(['teamId', 'topic']));
    expect(error.message).not.toContain('TOP-SECRET-KEY');
    expect(configErrorOf(() => createSmsProvider({ driver: 'carrier-pigeon' } as never)).problems[0]).toMatch(/^driver/);
  });

  it('read a credential from a file', async () => {
    const file = join(dir, 'apns.p8');
    writeFileSync(file, signingKey);
    const provider = createPushProvider({ driver: 'apns', teamId: 'T', keyId: 'K', topic: 'com.example', signingKeyFile: file });
    expect(provider.id).toBe('apns');
    await provider.close();
  });

  it('name a missing credential file and a doubly given credential', () => {
    const missing = join(dir, 'absent.p8');
    expect(configErrorOf(() => createPushProvider({ driver: 'apns', teamId: 'T', keyId: 'K', topic: 't', signingKeyFile: missing })).message).toContain(
      `${missing} cannot be read (ENOENT)`,
    );
    expect(configErrorOf(() => createSmsProvider({ driver: 'twilio', accountSid: 'AC1', from: '+1', authToken: 'a', authTokenFile: 'b' })).message).toContain(
      'both set',
    );
    expect(configErrorOf(() => createPushProvider({ driver: 'hms', appId: '1' })).message).toContain('hms.appSecret or hms.appSecretFile is required');
  });

  it('refuse a credential file with nothing in it, as an empty inline credential counts as none', () => {
    const empty = join(dir, 'empty-secret');
    writeFileSync(empty, '\n');
    expect(configErrorOf(() => createSmsProvider({ driver: 'twilio', accountSid: 'AC1', from: '+1', authTokenFile: empty })).message).toContain(`twilio.authTokenFile ${empty} is empty`);
  });

  it('read the HTTP gateway headers from a JSON file', async () => {
    const file = join(dir, 'headers.json');
    writeFileSync(file, '{"authorization":"Bearer x"}');
    const provider = createSmsProvider({ driver: 'http', url: 'http://127.0.0.1:9/send', bodyTemplate: '{}', headersFile: file });
    expect(provider.id).toBe('http-sms');
    for (const bad of ['["not", "an", "object"]', '{"X Api Key":"k"}', '{"authorization":"Bearer x\\n"}']) {
      writeFileSync(file, bad);
      expect(configErrorOf(() => createSmsProvider({ driver: 'http', url: 'http://127.0.0.1:9/send', bodyTemplate: '{}', headersFile: file })).message).toContain(
        'JSON object of header names and string values',
      );
    }
    // Given inline, a header value with a line break is refused at start too, not at every send.
    expect(configErrorOf(() => createSmsProvider({ driver: 'http', url: 'http://127.0.0.1:9/send', bodyTemplate: '{}', headers: { authorization: 'Bearer x\n' } })).message).toContain(
      'line breaks',
    );
  });

  it('fill limits from the defaults, the burst following a configured rate', () => {
    expect(resolveLimits(undefined)).toEqual(DEFAULT_PROVIDER_LIMITS);
    expect(resolveLimits({ ratePerSecond: 50, timeoutMs: 2_000 })).toEqual({ ...DEFAULT_PROVIDER_LIMITS, ratePerSecond: 50, burst: 50, timeoutMs: 2_000 });
  });
});
