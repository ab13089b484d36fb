import { loadChannelWorkerConfig } from '@notify/config';
import { createLogger } from '@notify/observability';
import { ChannelProviders } from './channel-providers';

const log = createLogger('channel-providers-spec', 'silent');

describe('ChannelProviders.loggedOnly', () => {
  async function loggedOnly(env: NodeJS.ProcessEnv): Promise<string[]> {
    const providers = new ChannelProviders(loadChannelWorkerConfig(env), { log });
    try {
      return providers.loggedOnly();
    } finally {
      await providers.onApplicationShutdown();
    }
  }

  it('names every channel and push vendor left on the log driver, which records messages sent that reach nobody', async () => {
    expect(await loggedOnly({})).toEqual(['push.apns', 'push.fcm', 'push.hms', 'push.xiaomi', 'sms', 'email']);
  });

  it('leaves out a channel with a provider set, and a channel this process does not send on', async () => {
    const twilio = { SMS_DRIVER: 'twilio', SMS_TWILIO_ACCOUNT_SID: 'AC0123456789', SMS_TWILIO_AUTH_TOKEN: 'twilio-token-value', SMS_TWILIO_FROM: '+15005550006' };
    expect(await loggedOnly({ ...twilio, CHANNEL_WORKER_CHANNELS: 'sms,email' })).toEqual(['email']);
    expect(await loggedOnly({ ...twilio, CHANNEL_WORKER_CHANNELS: 'sms' })).toEqual([]);
  });
});
