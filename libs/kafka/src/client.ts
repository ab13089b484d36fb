import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { AppLogger } from '@notify/observability';
import { registerCompressionCodecs } from './compression';

export interface KafkaConnectionSettings {
  kafkaBrokers: string[];
  kafkaSsl: boolean;
  kafkaSaslMechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512' | undefined;
  kafkaSaslUsername?: string | undefined;
  kafkaSaslPassword?: string | undefined;
}

export function createKafka(clientId: string, settings: KafkaConnectionSettings, logger: AppLogger): Kafka {
  registerCompressionCodecs();
  const config: KafkaConfig = {
    clientId,
    brokers: settings.kafkaBrokers,
    ssl: settings.kafkaSsl,
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => writeKafkaLog(logger, entry),
    retry: { initialRetryTime: 300, retries: 8 },
  };
  const sasl = saslOf(settings);
  if (sasl) config.sasl = sasl;
  return new Kafka(config);
}

function saslOf(settings: KafkaConnectionSettings): SASLOptions | undefined {
  const { kafkaSaslMechanism: mechanism, kafkaSaslUsername: username, kafkaSaslPassword: password } = settings;
  if (!mechanism || !username || !password) return undefined;
  return { mechanism, username, password } as SASLOptions;
}

function writeKafkaLog(logger: AppLogger, { level, log }: LogEntry): void {
  const { message, timestamp: _timestamp, logger: _name, ...extra } = log;
  // kafkajs passes the error itself as the message when it gives up connecting to a broker (a refused
  // SASL login): read as text, it threw inside kafkajs, and the crash named that TypeError instead.
  const error: unknown = message;
  const text = error instanceof Error ? error.message : String(message);
  const fields = { component: 'kafkajs', ...extra, ...(error instanceof Error ? { error } : {}) };
  // kafkajs logs every error answer of the broker (`Response <API>…`) as an error, then throws it to
  // its caller, which retries it (no group coordinator yet on a new broker, a leader moving) or
  // reports it: a warning here, or every start on a fresh broker looked like a failure.
  const answered = text.startsWith('Response ');
  if (level <= logLevel.ERROR && !answered) logger.error(fields, text);
  else if (level <= logLevel.WARN) logger.warn(fields, text);
  else logger.debug(fields, text);
}
