import { Global, Inject, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Kafka, Partitioners, type Admin, type Producer } from 'kafkajs';
import { APP_LOGGER, HealthRegistry, type AppLogger } from '@notify/observability';
import { createKafka, type KafkaConnectionSettings } from './client';
import { ensureTopics } from './topics';

export interface KafkaModuleOptions {
  clientId: string;
  connection: KafkaConnectionSettings;
  /** Topics this app reads or writes; created when missing. */
  topics: readonly string[];
  partitions: number;
  replicationFactor: number;
}

/** What an app does when a consumer can no longer go on: by default it exits non-zero for its supervisor. */
export const FATAL_ERROR_HANDLER = Symbol('FATAL_ERROR_HANDLER');
export type FatalErrorHandler = (error: Error) => void;

export const KAFKA_PRODUCER = Symbol('KAFKA_PRODUCER');
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
            const created = await ensureTopics(kafka, options.topics, options);
            if (created.length > 0) logger.info({ topics: created }, 'created missing kafka topics');
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

  onModuleInit(): void {
    this.health.register('kafka', async () => {
      await this.admin.describeCluster();
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect();
    await this.admin.disconnect();
  }
}
