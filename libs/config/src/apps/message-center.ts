import { z } from 'zod';
import { loadConfig, setting, type ConfigOf } from '../setting';
import { databaseSettings, kafkaSettings, logSettings, saslComplete } from '../shared';
import { port, positiveInt } from '../types';

export const messageCenterSettings = {
  ...kafkaSettings,
  ...databaseSettings,
  ...logSettings,
  httpPort: setting('MESSAGE_CENTER_PORT', port(3002), 'HTTP port of the message center (health, metrics)'),
  routesFile: setting('NOTIFY_ROUTES', z.string().min(1).default('config/routes.yaml'), 'Route table file'),
  consumerGroup: setting('MESSAGE_CENTER_GROUP', z.string().min(1).default('notify.message-center'), 'Kafka consumer group of the message center'),
  maxBatchBytes: setting('MESSAGE_CENTER_MAX_BATCH_BYTES', positiveInt(1024 * 1024), 'Largest fetch per partition, in bytes'),
  maxDeliveriesPerTransaction: setting(
    'MESSAGE_CENTER_MAX_DELIVERIES_PER_TRANSACTION',
    positiveInt(20_000),
    'Deliveries a batch stores and hands out per transaction before it plans the next requests (one request is never split): bounds the memory of a batch of broadcasts',
  ),
  retentionDays: setting('MESSAGE_RETENTION_DAYS', positiveInt(30), 'Days of messages, deliveries and inboxes kept; a weekly partition is dropped once all of it is older. Lowered, it drops the weeks past the new period as soon as a message center starts with it, scheduled messages and their request ids included'),
  partitionDaysAhead: setting('PARTITION_DAYS_AHEAD', positiveInt(7), 'Days of partitions made ahead of time'),
};
export type MessageCenterConfig = ConfigOf<typeof messageCenterSettings>;

export function loadMessageCenterConfig(env: NodeJS.ProcessEnv = process.env): MessageCenterConfig {
  return loadConfig('message-center', messageCenterSettings, env, [saslComplete]);
}
