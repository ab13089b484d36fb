import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Kafka, type Producer } from 'kafkajs';
import { GAVE_UP_ERRORS, OutcomeEventSchema, Topics, type OutcomeEvent } from '@notify/contracts';
import { BatchConsumer, FATAL_ERROR_HANDLER, KAFKA_PRODUCER, sendJobs, type ConsumedRecord, type FatalErrorHandler } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, afterCommit, FallbackStore, type AfterCommitRetry } from '@notify/persistence';
import { INGESTION_SETTINGS, type IngestionSettings } from '../ingestion/request-ingestion';

const GAVE_UP = new Set<string>(GAVE_UP_ERRORS);

/** An outcome that means a channel did not reach the user now, so the route's next channel should try. */
export function gaveUp(event: OutcomeEvent): boolean {
  return event.status === 'dead' || event.status === 'expired' || (event.status === 'failed' && GAVE_UP.has(event.error ?? ''));
}

/** An outcome that means a channel reached the user: the channels after it are not needed. */
export function reached(event: OutcomeEvent): boolean {
  return event.status === 'delivered' || event.status === 'read' || event.status === 'clicked';
}

/**
 * Follows notify.events to run the routes' fallback: when a tier gave up on a user (offline, no
 * acknowledgement, no endpoint, dead) the next tier is released; when a tier reached the user, the
 * tiers above it are cancelled.
 */
@Injectable()
export class FallbackEscalation implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumer: BatchConsumer;

  constructor(
    kafka: Kafka,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    private readonly store: FallbackStore,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(INGESTION_SETTINGS) settings: IngestionSettings,
    @Inject(FATAL_ERROR_HANDLER) onFatal: FatalErrorHandler,
    metrics: Metrics,
    @Optional() private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
  ) {
    this.consumer = new BatchConsumer(kafka, {
      groupId: `${settings.consumerGroup}.fallback`,
      topics: [Topics.events],
      logger,
      metrics,
      onFatal,
      handler: (records) => this.follow(records),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.consumer.stop();
  }

  private async follow(records: ConsumedRecord[]): Promise<void> {
    const events = records.flatMap((record) => this.parse(record));
    const idsOf = (keep: (e: OutcomeEvent) => boolean) => events.filter((e) => e.deliveryId && keep(e)).map((e) => e.deliveryId!);
    await this.store.cancelAbove(idsOf(reached));
    const jobs = await this.store.escalate(idsOf(gaveUp));
    // The release has committed: a replayed batch would find nothing left to release, and the jobs
    // would wait for their lease (RELEASE_LEASE_MS) before the resend poller sent them.
    await afterCommit('producing released deliveries', () => sendJobs(this.producer, jobs), this.logger, this.retry);
  }

  private parse(record: ConsumedRecord): OutcomeEvent[] {
    try {
      return [OutcomeEventSchema.parse(JSON.parse(record.value?.toString('utf8') ?? ''))];
    } catch {
      this.logger.warn({ partition: record.partition, offset: record.offset }, 'ignoring an event that is not an outcome event');
      return [];
    }
  }
}
