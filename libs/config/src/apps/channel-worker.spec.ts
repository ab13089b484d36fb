import { ConfigError } from '../setting';
import { loadChannelWorkerConfig } from './channel-worker';

function problemsOf(env: NodeJS.ProcessEnv): string[] {
  try {
    loadChannelWorkerConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

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
