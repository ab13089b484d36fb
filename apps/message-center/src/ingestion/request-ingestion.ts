import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Kafka, type Producer } from 'kafkajs';
import { ErrorCode, Topics } from '@notify/contracts';
import {
  BatchConsumer,
  sendDeadLetters,
  sendJobs,
  FATAL_ERROR_HANDLER,
  KAFKA_PRODUCER,
  type ConsumedRecord,
  type FatalErrorHandler,
  type Rejection,
} from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { IngestStore, newId, RecipientStore, writeIsolatingRefusals } from '@notify/persistence';
import type { Counter } from 'prom-client';
import { namedRecipients } from '../planning/targets';
import { RouteTable } from '../routing/route-table';
import { BatchPlan, groupCopies } from './batch-plan';

export interface IngestionSettings {
  consumerGroup: string;
  maxBatchBytes: number;
  retentionDays: number;
  /**
   * Deliveries planned into one transaction before it is stored and its jobs produced, and the next
   * requests planned: a batch of broadcasts (1 MiB of requests can name a million recipients) is
   * then held in memory a part at a time. One request's deliveries are never split.
   */
  maxDeliveriesPerTransaction: number;
}
export const INGESTION_SETTINGS = Symbol('INGESTION_SETTINGS');
export const CLOCK = Symbol('CLOCK');
export type Clock = () => Date;

/**
 * Consumes notify.requests per batch: validate, resolve recipients, route and render, store in one
 * write (one per `maxDeliveriesPerTransaction` deliveries for a batch of broadcasts), then fan
 * out to the channel topics, notify.events and the DLQ, and only then commit the offsets.
 */
@Injectable()
export class RequestIngestion implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumer: BatchConsumer;
  private readonly stored: Counter;
  private readonly rejected: Counter;

  constructor(
    kafka: Kafka,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    private readonly store: IngestStore,
    private readonly recipients: RecipientStore,
    private readonly routes: RouteTable,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(INGESTION_SETTINGS) private readonly settings: IngestionSettings,
    @Inject(FATAL_ERROR_HANDLER) onFatal: FatalErrorHandler,
    @Inject(CLOCK) private readonly clock: Clock,
    metrics: Metrics,
  ) {
    this.stored = metrics.counter('notify_requests_stored_total', 'Requests stored, each once: when it is stored whole (a broadcast stored in steps, by its last step)');
    this.rejected = metrics.counter('notify_requests_rejected_total', 'Requests sent to the DLQ', ['code']);
    this.consumer = new BatchConsumer(kafka, {
      groupId: settings.consumerGroup,
      maxBytesPerPartition: settings.maxBatchBytes,
      topics: [Topics.requests],
      logger,
      metrics,
      onFatal,
      handler: (records, progress) => this.ingest(records, progress),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer.start();
  }

  /**
   * Stores nothing more once the transaction in hand has committed and its jobs are out (for a
   * broadcast stored a slice of users per transaction, once its slice has committed: the request stays
   * unfinished, and its jobs are handed out when it is resumed): the rest of the batch stays
   * uncommitted for the partition's next owner, which plans it again (what was stored is a replay then). Going on through a batch of broadcasts (minutes for a million recipients)
   * outlasted the supervisor's grace, and the kill could come between a commit and its jobs' produce.
   */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.logger.info('requests consumer stopping: the batch in hand ends at its next transaction');
    await this.consumer.stop();
  }
  private stopping = false;

  private endIfStopping(): void {
    if (this.stopping) throw new Error("stopping: the rest of the batch is left uncommitted for the partition's next owner");
  }

  private async ingest(records: ConsumedRecord[], progress: () => void): Promise<void> {
    const now = this.clock();
    const { copies, rejections } = groupCopies(records, this.routes);
    const { userIds, topics } = namedRecipients([...copies.values()].flat().flatMap((c) => ('request' in c ? [c.request] : [])));
    const directory = await this.recipients.lookup(userIds, topics);
    const plan = new BatchPlan(copies, { now, newId, directory, retentionDays: this.settings.retentionDays });
    /** Request ids none of whose copies could be planned, with their copies' rejections. */
    const unplanned = new Map<string, Rejection[]>();
    for (const id of copies.keys()) {
      const { planned, refused } = plan.planFrom(id, 0);
      // A copy refused before the one that was planned is bad input of its own; a copy after it, a duplicate.
      if (planned) rejections.push(...refused);
      else unplanned.set(id, refused);
      if (plan.deliveries < this.settings.maxDeliveriesPerTransaction) continue;
      await this.storePlanned(plan, rejections, progress);
      this.endIfStopping();
    }
    await this.storePlanned(plan, rejections, progress);
    await this.sendReplaysAndRejections(unplanned, rejections);
  }

  /**
   * Stores what `plan` holds in one write and produces its jobs and events; then, as long as PostgreSQL
   * refused some, plans their next copies and stores those the same way. Its refusals join `rejections`.
   */
  private async storePlanned(plan: BatchPlan, rejections: Rejection[], progress: () => void): Promise<void> {
    // A broadcast stored a slice of users per transaction reports each one, and a stop ends it there:
    // the request stays unfinished, and the partition's next owner resumes it.
    const sliceStored = () => {
      progress();
      this.endIfStopping();
    };
    do {
      const { written, refused } = await writeIsolatingRefusals((batch) => this.store.ingest(batch, sliceStored), plan.take());
      for (const { item, sqlState } of refused) rejections.push(storageRefusal(plan.plannedRecord(item.requestId), sqlState));
      // Counted once committed: a batch whose produce then fails comes back and stores none of them again.
      this.stored.inc(written.reduce((sum, w) => sum + w.stored, 0));
      await sendJobs(this.producer, written.flatMap((w) => w.jobs), written.flatMap((w) => w.events));
      progress();
      // The next transaction's messages are created now: stamped with the batch's start, they would
      // sort among messages committed before them, behind a reader's page position.
      plan.createFrom(this.clock());
      // A later copy of a refused id that can be planned is the request now, as it would be in a later
      // batch; the copies refused on the way are bad input of their own.
      for (const { item } of refused) rejections.push(...plan.planAfterPlanned(item.requestId).refused);
    } while (!plan.isEmpty);
  }

  /**
   * Sends the batch's rejections to the DLQ, with the refused copies of the requests in `unplanned`
   * (none of whose copies could be planned) that were not stored before. A request refused now may
   * have been stored by an earlier pass over this batch, under a route or template that has changed
   * or been removed since (the first pass committed, then the process stopped before its produce):
   * that is a replay, not bad input, and its deliveries still queued are handed out again. One that
   * pass stored in part (a broadcast stopped between its slices) is handed out as far as it was
   * stored, and its copies go to the DLQ too: the rest of its audience needs a plan, and a re-drive
   * of its DLQ record once it can be planned resumes it.
   */
  private async sendReplaysAndRejections(unplanned: Map<string, Rejection[]>, rejections: Rejection[]): Promise<void> {
    const replay = await this.store.replayOf([...unplanned.keys()]);
    const unfinished = new Set(replay.unfinished);
    const replayed = new Set(replay.requestIds.filter((id) => !unfinished.has(id)));
    const dead = [...rejections, ...[...unplanned].flatMap(([id, refused]) => (replayed.has(id) ? [] : refused))];
    for (const requestId of unfinished) {
      this.logger.error({ requestId }, 'request stored in part cannot be planned now: its recipients not yet stored get nothing until its DLQ record is driven again');
    }
    await sendJobs(this.producer, replay.jobs, replay.events);
    await sendDeadLetters(this.producer, dead);
    for (const { code, reason, record } of dead) {
      this.rejected.inc({ code });
      this.logger.warn({ code, reason, partition: record.partition, offset: record.offset }, 'request sent to the DLQ');
    }
  }
}

/** The SQLSTATE, never PostgreSQL's message: that can quote the value, which may be personal data. */
export function storageRefusal(record: ConsumedRecord, sqlState: string): Rejection {
  return { record, code: ErrorCode.StorageRefused, reason: `PostgreSQL refused to store the record (SQLSTATE ${sqlState})` };
}
