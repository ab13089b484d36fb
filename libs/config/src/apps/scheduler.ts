import { loadConfig, setting, type ConfigOf } from '../setting';
import { databaseSettings, kafkaSettings, logSettings, saslComplete } from '../shared';
import { milliseconds, port, positiveInt, timerMs } from '../types';

export const schedulerSettings = {
  ...kafkaSettings,
  ...databaseSettings,
  ...logSettings,
  httpPort: setting('SCHEDULER_PORT', port(3004), 'HTTP port of the scheduler (health, metrics)'),
  // At least 50 ms: polled more often, the database answers little but the scheduler's queries.
  pollIntervalMs: setting(
    'SCHEDULER_POLL_INTERVAL_MS',
    timerMs(2_000, 50),
    'How often the scheduler polls: held deliveries whose time has come, failed or lost deliveries to resend, and outcome events left in the outbox (at least 50 ms)',
  ),
  releaseBatchSize: setting('SCHEDULER_BATCH_SIZE', positiveInt(500), 'Held deliveries released per transaction'),
  // At least 10 s: a shorter lease ends before the channel worker has taken the resend, which is then claimed and sent again.
  resendLeaseMs: setting(
    'SCHEDULER_RESEND_LEASE_MS',
    milliseconds(10_000).default(300_000),
    'How long a claimed resend is held before another scheduler may claim it again; longer than a channel topic usually lags (at least 10 seconds)',
  ),
  outboxRelayAfterMs: setting(
    'SCHEDULER_OUTBOX_RELAY_AFTER_MS',
    // At least a minute: a shorter wait publishes events their app is still producing, and they go out twice.
    timerMs(900_000, 60_000),
    'How long outcome events staged in the outbox are left to the app that stored them before the scheduler publishes them on notify.events; longer than an app tries one produce (about 10 minutes); at least a minute',
  ),
  resendReceiversPerClaim: setting('SCHEDULER_RESEND_RECEIVERS', positiveInt(500), 'Receivers whose pending deliveries are claimed per transaction'),
};
export type SchedulerConfig = ConfigOf<typeof schedulerSettings>;

export function loadSchedulerConfig(env: NodeJS.ProcessEnv = process.env): SchedulerConfig {
  return loadConfig('scheduler', schedulerSettings, env, [saslComplete]);
}
