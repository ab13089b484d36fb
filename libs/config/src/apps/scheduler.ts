import { loadConfig, setting, type ConfigOf } from '../setting';
import { databaseSettings, kafkaSettings, logSettings, saslComplete } from '../shared';
import { port } from '../types';

export const schedulerSettings = {
  ...kafkaSettings,
  ...databaseSettings,
  ...logSettings,
  httpPort: setting('SCHEDULER_PORT', port(3004), 'HTTP port of the scheduler (health, metrics)'),
};
export type SchedulerConfig = ConfigOf<typeof schedulerSettings>;

export function loadSchedulerConfig(env: NodeJS.ProcessEnv = process.env): SchedulerConfig {
  return loadConfig('scheduler', schedulerSettings, env, [saslComplete]);
}
