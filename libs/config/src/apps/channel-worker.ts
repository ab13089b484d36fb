import { loadConfig, setting, type ConfigOf } from '../setting';
import { databaseSettings, kafkaSettings, logSettings, saslComplete } from '../shared';
import { port } from '../types';

export const channelWorkerSettings = {
  ...kafkaSettings,
  ...databaseSettings,
  ...logSettings,
  httpPort: setting('CHANNEL_WORKER_PORT', port(3003), 'HTTP port of the channel worker (health, metrics)'),
};
export type ChannelWorkerConfig = ConfigOf<typeof channelWorkerSettings>;

export function loadChannelWorkerConfig(env: NodeJS.ProcessEnv = process.env): ChannelWorkerConfig {
  return loadConfig('channel-worker', channelWorkerSettings, env, [saslComplete]);
}
