import { z } from 'zod';
import { setting } from './setting';
import { bool, brokers, positiveInt, postgresUrl } from './types';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/notify';
export const DEFAULT_KAFKA_BROKERS = '127.0.0.1:9092';

export const kafkaSettings = {
  kafkaBrokers: setting('KAFKA_BROKERS', brokers(DEFAULT_KAFKA_BROKERS), 'Comma-separated host:port list of Kafka brokers'),
  kafkaSsl: setting('KAFKA_SSL', bool(false), 'Connect to Kafka over TLS'),
  kafkaSaslMechanism: setting(
    'KAFKA_SASL_MECHANISM',
    z.enum(['plain', 'scram-sha-256', 'scram-sha-512']).optional(),
    'SASL mechanism for Kafka; unset for none',
  ),
  kafkaSaslUsername: setting('KAFKA_SASL_USERNAME', z.string().optional(), 'SASL user name'),
  kafkaSaslPassword: setting('KAFKA_SASL_PASSWORD', z.string().optional(), 'SASL password', { sensitive: true }),
  kafkaTopicPartitions: setting('KAFKA_TOPIC_PARTITIONS', positiveInt(3), 'Partitions of each topic the app creates when it is missing'),
  kafkaReplicationFactor: setting(
    'KAFKA_REPLICATION_FACTOR',
    z.coerce.number().int().positive().optional(),
    'Replication factor of topics the app creates (not the cluster\'s default.replication.factor); unset: 3, or the number of brokers up at the time when fewer. Their min.insync.replicas is 2 with 3 copies or more, else 1',
  ),
};

export const databaseSettings = {
  databaseUrl: setting('DATABASE_URL', postgresUrl(DEFAULT_DATABASE_URL), 'PostgreSQL connection string', { sensitive: true }),
  databasePoolSize: setting('DATABASE_POOL_SIZE', positiveInt(10), 'Connections in the pool of each app (its health check holds one more; a gateway with the PostgreSQL cluster adapter, up to three more); the query API works on that many calls at once (one API key on all but one of them), the rest waiting their turn'),
};

/** Tracked links (contract §6): the gateway answers them, every sender writes them; all share the secret. */
export const clickSettings = {
  clickSecret: setting(
    'CLICK_SECRET',
    z.string().min(32, 'at least 32 characters').optional(),
    'Secret that signs tracked links (GET /c/{token}); the same for every gateway and channel worker; unset: links are sent as they are, untracked',
    { sensitive: true },
  ),
  clickBaseUrl: setting(
    'CLICK_BASE_URL',
    z
      .url({ protocol: /^https?$/, error: 'an http or https URL' })
      // Links are this address and /c/{token}: after a query or a fragment, every one of them was a 404.
      .refine((url) => !/[?#]/.test(url), 'without a query or a fragment')
      .optional(),
    'Public address of the realtime gateway, which tracked links point at (required with CLICK_SECRET)',
  ),
};

/** Tracked links need the address they are opened at: a default would send every link to a loopback address. */
export function clickComplete(config: { clickSecret?: string; clickBaseUrl?: string }): string[] {
  return config.clickSecret && !config.clickBaseUrl ? ['CLICK_BASE_URL is required when CLICK_SECRET is set: the public address of the realtime gateway, where links are opened'] : [];
}

export const logSettings = {
  logLevel: setting(
    'LOG_LEVEL',
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    'Minimum level written to the log',
  ),
};

type SaslSettings = { kafkaSaslMechanism?: string; kafkaSaslUsername?: string; kafkaSaslPassword?: string };

export function saslComplete(config: SaslSettings): string[] {
  if (config.kafkaSaslMechanism && !(config.kafkaSaslUsername && config.kafkaSaslPassword)) {
    return ['KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when KAFKA_SASL_MECHANISM is set'];
  }
  // Credentials without a mechanism were dropped without a word, and the app met a SASL listener in plain text.
  if (!config.kafkaSaslMechanism && (config.kafkaSaslUsername || config.kafkaSaslPassword)) {
    return ['KAFKA_SASL_MECHANISM is required when KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set'];
  }
  return [];
}
