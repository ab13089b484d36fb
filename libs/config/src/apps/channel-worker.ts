import { z } from 'zod';
import { loadConfig, setting, type ConfigOf } from '../setting';
import { databaseSettings, kafkaSettings, logSettings, saslComplete } from '../shared';
import { port } from '../types';

export const channelWorkerSettings = {
  ...kafkaSettings,
  ...databaseSettings,
  ...logSettings,
  httpPort: setting('CHANNEL_WORKER_PORT', port(3003), 'HTTP port of the channel worker (health, metrics)'),
  pushDriver: setting('PUSH_DRIVER', z.enum(['log']).default('log'), 'Vendor push driver'),
  smsDriver: setting('SMS_DRIVER', z.enum(['log']).default('log'), 'SMS driver'),
  emailDriver: setting('EMAIL_DRIVER', z.enum(['log']).default('log'), 'Email driver'),
  consumerGroupPrefix: setting('CHANNEL_WORKER_GROUP_PREFIX', z.string().min(1).default('notify.channel-worker'), 'Prefix of the per-channel consumer groups'),
};
export type ChannelWorkerConfig = ConfigOf<typeof channelWorkerSettings>;

export function loadChannelWorkerConfig(env: NodeJS.ProcessEnv = process.env): ChannelWorkerConfig {
  return loadConfig('channel-worker', channelWorkerSettings, env, [saslComplete]);
}
