import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Kafka, Partitioners, type Admin, type Producer } from 'kafkajs';
import { APP_LOGGER, HealthRegistry, type AppLogger } from '@notify/observability';
import { createKafka, type KafkaConnectionSettings } from './client';
import { ensureTopics, topicProblemsWarning } from './topics';

export interface KafkaModuleOptions {
  clientId: string;
  connection: KafkaConnectionSettings;
  /** Topics this app reads or writes; created when missing. */
  topics: readonly string[];
  partitions: number;
  /** Unset: three copies on a cluster of three brokers or more (`replicationFactorFor`). */
  replicationFactor?: number;
}

/** What an app does when a consumer can no longer go on: by default it exits non-zero for its supervisor. */
export const FATAL_ERROR_HANDLER = Symbol('FATAL_ERROR_HANDLER');
export type FatalErrorHandler = (error: Error) => void;

export const KAFKA_PRODUCER = Symbol('KAFKA_PRODUCER');
/** How many times the health check asks for the cluster before it says down. */
const HEALTH_TRIES = 3;
const KAFKA_ADMIN = Symbol('KAFKA_ADMIN');

/** A Kafka client, a connected producer, the app's topics, and a `kafka` health check. */
@Global()
@Module({})
export class KafkaModule implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(KAFKA_ADMIN) private readonly admin: Admin,
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
  ) {}

  static forRoot(options: KafkaModuleOptions): DynamicModule {
    return {
      module: KafkaModule,
      providers: [
        {
          provide: Kafka,
          useFactory: async (logger: AppLogger) => {
            const kafka = createKafka(options.clientId, options.connection, logger);
            const topics = await ensureTopics(kafka, options.topics, options);
            if (topics.created.length > 0) logger.info({ topics: topics.created, replicationFactor: topics.replicationFactor }, 'created missing kafka topics');
            // One warning per start, not an error: the app works with the topics as they are, but their operator should know.
            const warning = topicProblemsWarning(topics);
            if (warning !== undefined) logger.warn({ problems: topics.problems }, warning);
            return kafka;
          },
          inject: [APP_LOGGER],
        },
        {
          provide: KAFKA_PRODUCER,
          useFactory: async (kafka: Kafka) => {
            const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
            await producer.connect();
            return producer;
          },
          inject: [Kafka],
        },
        {
          provide: KAFKA_ADMIN,
          useFactory: async (kafka: Kafka) => {
            const admin = kafka.admin();
            await admin.connect();
            return admin;
          },
          inject: [Kafka],
        },
      ],
      exports: [Kafka, KAFKA_PRODUCER],
    };
  }

  /**
   * `kafka` is up when a broker answers for the cluster. kafkajs asks one broker it picks at random,
   * and a connection refused by that one fails the call: with one of three brokers down (a rolling
   * restart), one check in three said down, and the supervisor restarted apps that were working.
   * So it asks up to `HEALTH_TRIES` times, each time a broker picked anew.
   */
  onModuleInit(): void {
    this.health.register('kafka', async () => {
      for (let tried = 1; ; tried++) {
        try {
          await this.admin.describeCluster();
          return;
        } catch (error) {
          if (tried >= HEALTH_TRIES) throw error;
        }
      }
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect();
    await this.admin.disconnect();
  }
}
