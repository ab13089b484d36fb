import { createEmailProvider, createPushProviders, createSmsProvider } from '@notify/channels';
import { ConfigError, loadChannelWorkerConfig } from '@notify/config';
import { emailDriverConfig, pushChannelConfig, smsDriverConfig } from './driver-configs';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadChannelWorkerConfig(env);
    return [];
  } catch (error) {
    return error instanceof ConfigError ? error.problems : [String(error)];
  }
}

describe('channel worker drivers from the environment', () => {
  it('runs every channel with the log drivers when nothing is configured', async () => {
    const config = loadChannelWorkerConfig({});
    expect(config.channels).toEqual(['push', 'sms', 'email']);
    const push = createPushProviders(pushChannelConfig(config));
    expect(Object.values(push).map((p) => p.id)).toEqual(['log', 'log', 'log', 'log']);
    expect(createSmsProvider(smsDriverConfig(config)).id).toBe('log');
    expect(createEmailProvider(emailDriverConfig(config)).id).toBe('log');
  });

  it('lists every missing variable of the chosen drivers at once, and never a secret value', () => {
    const problems = problemsOf({
      PUSH_APNS_DRIVER: 'apns',
      PUSH_HMS_DRIVER: 'hms',
      PUSH_HMS_APP_SECRET: 'hms-secret-value',
      PUSH_HMS_APP_SECRET_FILE: '/run/secrets/hms',
      SMS_DRIVER: 'twilio',
      EMAIL_DRIVER: 'smtp',
      SMS_HTTP_HEADERS: '{"authorization": "Bearer top-secret"',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'PUSH_APNS_TEAM_ID is required',
        'PUSH_APNS_KEY_ID is required',
        'PUSH_APNS_TOPIC is required',
        'PUSH_APNS_SIGNING_KEY or PUSH_APNS_SIGNING_KEY_FILE is required',
        'PUSH_HMS_APP_ID is required',
        'PUSH_HMS_APP_SECRET and PUSH_HMS_APP_SECRET_FILE are both set; set one',
        'SMS_TWILIO_ACCOUNT_SID is required',
        'SMS_TWILIO_AUTH_TOKEN or SMS_TWILIO_AUTH_TOKEN_FILE is required',
        'SMTP_HOST is required',
        'SMTP_FROM is required',
      ]),
    );
    expect(problems.some((p) => p.startsWith('SMS_HTTP_HEADERS: must be JSON'))).toBe(true);
    expect(problems.join('\n')).not.toMatch(/hms-secret-value|top-secret/);
  });

  it('asks Mi Push for receipts only at a URL with the receipts token, within the 128 bytes Mi Push takes', () => {
    const xiaomi = { PUSH_XIAOMI_DRIVER: 'xiaomi', PUSH_XIAOMI_PACKAGE_NAME: 'com.example.app', PUSH_XIAOMI_APP_SECRET: 'mi-secret' };
    const token = 'receipts-token-0123456789';
    const url = `https://notify.example/receipts/xiaomi?token=${token}`;
    expect(problemsOf({ ...xiaomi, PUSH_XIAOMI_RECEIPT_URL: url })).toEqual([expect.stringContaining('needs CHANNEL_WORKER_RECEIPTS_TOKEN')]);
    expect(problemsOf({ ...xiaomi, PUSH_XIAOMI_RECEIPT_URL: url, CHANNEL_WORKER_RECEIPTS_TOKEN: 'another-token-0123456789' })).toEqual([
      expect.stringContaining('must carry ?token='),
    ]);
    const long = `https://notify.example/${'r'.repeat(100)}/receipts/xiaomi?token=${token}`;
    expect(pushChannelConfig(loadChannelWorkerConfig({ ...xiaomi, PUSH_XIAOMI_RECEIPT_URL: long, CHANNEL_WORKER_RECEIPTS_TOKEN: token })).xiaomi).toMatchObject({ receiptUrl: long });
    expect(() => createPushProviders(pushChannelConfig(loadChannelWorkerConfig({ ...xiaomi, PUSH_XIAOMI_RECEIPT_URL: long, CHANNEL_WORKER_RECEIPTS_TOKEN: token })))).toThrow(/128 bytes/);
    const config = loadChannelWorkerConfig({ ...xiaomi, PUSH_XIAOMI_RECEIPT_URL: url, CHANNEL_WORKER_RECEIPTS_TOKEN: token });
    expect(createPushProviders(pushChannelConfig(config)).xiaomi.id).toBe('xiaomi');
  });

  it("takes Huawei's receipts by their signature when the callback user name and key are both given, never naming the key", () => {
    const hms = { PUSH_HMS_DRIVER: 'hms', PUSH_HMS_APP_ID: '1234', PUSH_HMS_APP_SECRET: 'hms-secret' };
    expect(createPushProviders(pushChannelConfig(loadChannelWorkerConfig(hms))).hms.receipts).toBe('unsigned');
    const signed = loadChannelWorkerConfig({ ...hms, PUSH_HMS_RECEIPT_USER_NAME: 'notify', PUSH_HMS_RECEIPT_KEY: 'callback-key-value' });
    expect(createPushProviders(pushChannelConfig(signed)).hms.receipts).toBe('signed');
    expect(problemsOf({ ...hms, PUSH_HMS_RECEIPT_USER_NAME: 'notify' })).toEqual(['PUSH_HMS_RECEIPT_KEY or PUSH_HMS_RECEIPT_KEY_FILE is required']);
    const keyOnly = problemsOf({ ...hms, PUSH_HMS_RECEIPT_KEY: 'callback-key-value', PUSH_HMS_RECEIPT_KEY_FILE: '/run/secrets/hms-receipts' });
    expect(keyOnly).toEqual(['PUSH_HMS_RECEIPT_KEY needs PUSH_HMS_RECEIPT_USER_NAME, the callback user name it signs']);
    expect(keyOnly.join('\n')).not.toContain('callback-key-value');
  });

  it("hands Huawei the category PUSH_HMS_CATEGORY names, and refuses at start one Push Kit does not have", () => {
    const hms = { PUSH_HMS_DRIVER: 'hms', PUSH_HMS_APP_ID: '1234', PUSH_HMS_APP_SECRET: 'hms-secret' };
    expect(pushChannelConfig(loadChannelWorkerConfig({ ...hms, PUSH_HMS_CATEGORY: 'ACCOUNT' })).hms).toMatchObject({ category: 'ACCOUNT' });
    expect(createPushProviders(pushChannelConfig(loadChannelWorkerConfig({ ...hms, PUSH_HMS_CATEGORY: 'ACCOUNT' }))).hms.id).toBe('hms');
    expect(() => createPushProviders(pushChannelConfig(loadChannelWorkerConfig({ ...hms, PUSH_HMS_CATEGORY: 'account' })))).toThrow(/category/);
  });

  it('takes bounces only with the receipts token, and sends them to the return path given', () => {
    const smtp = { EMAIL_DRIVER: 'smtp', SMTP_HOST: 'mail.example.com', SMTP_FROM: 'Notify <notify@example.com>' };
    expect(problemsOf({ ...smtp, SMTP_BOUNCE_RECEIPTS: 'true' })).toEqual([
      'SMTP_BOUNCE_RECEIPTS needs CHANNEL_WORKER_RECEIPTS_TOKEN, which the receipts endpoint checks',
      'SMTP_BOUNCE_RECEIPTS needs SMTP_RETURN_PATH, the mailbox whose mail system posts the bounces on',
    ]);
    expect(problemsOf({ ...smtp, SMTP_RETURN_PATH: 'Bounces <bounces@example.com>' })).toEqual([expect.stringMatching(/^SMTP_RETURN_PATH: must be a bare email address/)]);
    const config = loadChannelWorkerConfig({ ...smtp, SMTP_BOUNCE_RECEIPTS: 'true', SMTP_RETURN_PATH: 'bounces@example.com', CHANNEL_WORKER_RECEIPTS_TOKEN: 'receipts-token-0123456789' });
    expect(emailDriverConfig(config)).toMatchObject({ returnPath: 'bounces@example.com', bounceReceipts: true });
    expect(createEmailProvider(emailDriverConfig(config)).receipts).toBe('unsigned');
    expect(createEmailProvider(emailDriverConfig(loadChannelWorkerConfig(smtp))).receipts).toBeUndefined();
  });

  it('checks only the drivers of the channels this process runs', () => {
    expect(problemsOf({ CHANNEL_WORKER_CHANNELS: 'email', SMS_DRIVER: 'twilio' })).toEqual([]);
    expect(problemsOf({ CHANNEL_WORKER_CHANNELS: 'push,fax' })).toEqual([expect.stringContaining('CHANNEL_WORKER_CHANNELS')]);
    expect(loadChannelWorkerConfig({ CHANNEL_WORKER_CHANNELS: 'sms, sms,email' }).channels).toEqual(['sms', 'email']);
  });

  it('builds the vendor adapters the variables describe', () => {
    const config = loadChannelWorkerConfig({
      CHANNEL_WORKER_CHANNELS: 'push,sms',
      PUSH_XIAOMI_DRIVER: 'xiaomi',
      PUSH_XIAOMI_PACKAGE_NAME: 'com.example',
      PUSH_XIAOMI_APP_SECRET: 'secret',
      PUSH_XIAOMI_LIMITS: '{"concurrency": 5, "ratePerSecond": 20}',
      SMS_DRIVER: 'http',
      SMS_HTTP_URL: 'https://sms.example.com/send',
      SMS_HTTP_BODY_TEMPLATE: '{"to":"{{to}}","text":"{{body}}"}',
      SMS_HTTP_HEADERS: '{"x-api-key":"k"}',
    });
    expect(pushChannelConfig(config).xiaomi).toEqual({
      driver: 'xiaomi',
      baseUrl: 'https://api.xmpush.xiaomi.com',
      packageName: 'com.example',
      appSecret: 'secret',
      limits: { concurrency: 5, ratePerSecond: 20 },
    });
    expect(createPushProviders(pushChannelConfig(config)).xiaomi.id).toBe('xiaomi');
    expect(createSmsProvider(smsDriverConfig(config)).id).toBe('http-sms');
  });

  it('reads the SMTP server as host or host:port', () => {
    const smtp = (host: string, secure = 'false') =>
      emailDriverConfig(loadChannelWorkerConfig({ EMAIL_DRIVER: 'smtp', SMTP_HOST: host, SMTP_SECURE: secure, SMTP_FROM: 'notify@example.com' }));
    expect(smtp('mail.example.com')).toMatchObject({ host: 'mail.example.com', port: 587 });
    expect(smtp('mail.example.com:465', 'true')).toMatchObject({ host: 'mail.example.com', port: 465 });
    expect(smtp('[2001:db8::1]:2525')).toMatchObject({ host: '2001:db8::1', port: 2525 });
    expect(problemsOf({ SMTP_HOST: 'mail.example.com:99999' })).toEqual([expect.stringContaining('SMTP_HOST: must be host or host:port')]);
  });

  it('refuses limits it does not know rather than ignoring a typo', () => {
    expect(problemsOf({ PUSH_FCM_LIMITS: '{"concurency": 5}' })).toEqual([expect.stringContaining('PUSH_FCM_LIMITS')]);
  });
});

const TWILIO = { SMS_TWILIO_ACCOUNT_SID: 'AC0123456789', SMS_TWILIO_AUTH_TOKEN: 'twilio-token-value', SMS_TWILIO_FROM: '+15005550006' };

describe('channel worker configuration: a vendor’s variables without its driver', () => {
  it('refuses Twilio credentials while SMS_DRIVER is left at log, naming the variable to set and never a value', () => {
    const problems = problemsOf(TWILIO);
    expect(problems).toEqual([
      'SMS_TWILIO_ACCOUNT_SID, SMS_TWILIO_AUTH_TOKEN, SMS_TWILIO_FROM are set but SMS_DRIVER is log: set SMS_DRIVER=twilio to send with them, or unset them',
    ]);
    expect(problems.join('\n')).not.toMatch(/AC0123456789|twilio-token-value/);
    expect(loadChannelWorkerConfig({ ...TWILIO, SMS_DRIVER: 'twilio' }).smsDriver).toBe('twilio');
  });

  it('refuses another SMS vendor’s variables than the chosen driver’s', () => {
    expect(problemsOf({ ...TWILIO, SMS_DRIVER: 'twilio', SMS_ALIYUN_SIGN_NAME: 'Notify', SMS_HTTP_URL: 'https://sms.example.com/send' })).toEqual([
      'SMS_ALIYUN_SIGN_NAME is set but SMS_DRIVER is twilio: set SMS_DRIVER=aliyun to send with it, or unset it',
      'SMS_HTTP_URL is set but SMS_DRIVER is twilio: set SMS_DRIVER=http to send with it, or unset it',
    ]);
  });

  it('refuses SMTP settings while EMAIL_DRIVER is log', () => {
    expect(problemsOf({ SMTP_HOST: 'mail.example.com', SMTP_FROM: 'notify@example.com' })).toEqual([
      'SMTP_HOST, SMTP_FROM are set but EMAIL_DRIVER is log: set EMAIL_DRIVER=smtp to send with them, or unset them',
    ]);
  });

  it('refuses each push vendor’s variables while its own driver is log, the others being chosen', () => {
    const problems = problemsOf({
      PUSH_APNS_DRIVER: 'apns',
      PUSH_APNS_TEAM_ID: 'TEAM',
      PUSH_APNS_KEY_ID: 'KEY',
      PUSH_APNS_TOPIC: 'com.example.app',
      PUSH_APNS_SIGNING_KEY: 'pem',
      PUSH_FCM_SERVICE_ACCOUNT_FILE: '/run/secrets/fcm.json',
      PUSH_HMS_APP_ID: '1234',
      PUSH_XIAOMI_LIMITS: '{"concurrency": 5}',
    });
    expect(problems).toEqual([
      'PUSH_FCM_SERVICE_ACCOUNT_FILE is set but PUSH_FCM_DRIVER is log: set PUSH_FCM_DRIVER=fcm to send with it, or unset it',
      'PUSH_HMS_APP_ID is set but PUSH_HMS_DRIVER is log: set PUSH_HMS_DRIVER=hms to send with it, or unset it',
      'PUSH_XIAOMI_LIMITS is set but PUSH_XIAOMI_DRIVER is log: set PUSH_XIAOMI_DRIVER=xiaomi to send with it, or unset it',
    ]);
  });

  it('still loads the log drivers with no vendor variable, or with only the channel’s own limits', () => {
    expect(problemsOf({})).toEqual([]);
    expect(problemsOf({ SMS_LIMITS: '{"concurrency": 5}', EMAIL_LIMITS: '{"concurrency": 5}', SMTP_HOST: '', SMS_TWILIO_FROM: '' })).toEqual([]);
  });

  it('checks only the channels this process runs, as the drivers’ own checks do', () => {
    expect(problemsOf({ ...TWILIO, CHANNEL_WORKER_CHANNELS: 'push,email' })).toEqual([]);
  });

  it('reports a vendor variable that does not parse once, as itself', () => {
    expect(problemsOf({ SMTP_HOST: 'mail.example.com:99999' })).toEqual([expect.stringMatching(/^SMTP_HOST: must be host or host:port/)]);
    expect(problemsOf({ ...TWILIO, SMS_DRIVER: 'twillio' })).toEqual([expect.stringMatching(/^SMS_DRIVER: /)]);
  });
});
