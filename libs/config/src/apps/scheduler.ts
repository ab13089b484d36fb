import { loadConfig, setting, type ConfigOf } from '../setting';
import { databaseSettings, kafkaSettings, logSettings, saslComplete } from '../shared';
import { port, positiveInt, timerMs } from '../types';

export const schedulerSettings = {
  ...kafkaSettings,
  ...databaseSettings,
  ...logSettings,
  httpPort: setting('SCHEDULER_PORT', port(3004), 'HTTP port of the scheduler (health, metrics)'),
  pollIntervalMs: setting('SCHEDULER_POLL_INTERVAL_MS', timerMs(2_000), 'How often the scheduler polls: held deliveries whose time has come, failed or lost deliveries to resend, and outcome events left in the outbox'),
  releaseBatchSize: setting('SCHEDULER_BATCH_SIZE', positiveInt(500), 'Held deliveries released per transaction'),
  resendLeaseMs: setting('SCHEDULER_RESEND_LEASE_MS', positiveInt(300_000), 'How long a claimed resend is held before another scheduler may claim it again; longer than a channel topic usually lags'),
  outboxRelayAfterMs: setting(
    'SCHEDULER_OUTBOX_RELAY_AFTER_MS',
    timerMs(900_000),
    'How long outcome events staged in the outbox are left to the app that stored them before the scheduler publishes them on notify.events; longer than an app tries one produce (about 10 minutes)',
  ),
  resendReceiversPerClaim: setting('SCHEDULER_RESEND_RECEIVERS', positiveInt(500), 'Receivers whose pending deliveries are claimed per transaction'),
};
export type SchedulerConfig = ConfigOf<typeof schedulerSettings>;

export function loadSchedulerConfig(env: NodeJS.ProcessEnv = process.env): SchedulerConfig {
  return loadConfig('scheduler', schedulerSettings, env, [saslComplete]);
}
