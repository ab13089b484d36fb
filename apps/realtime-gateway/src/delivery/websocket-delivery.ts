import { Inject, Injectable, Optional, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { Kafka, type Producer } from 'kafkajs';
import { ErrorCode, outgoingLink, Topics, type ClickLinks, type DeliveryJob, type InboxMessage } from '@notify/contracts';
import {
  BatchConsumer,
  FATAL_ERROR_HANDLER,
  KAFKA_PRODUCER,
  publishOutcomes,
  readJobs,
  sendDeadLetters,
  type ConsumedRecord,
  type FatalErrorHandler,
  type Rejection,
} from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { AFTER_COMMIT_RETRY, afterCommit, DeliveryOutcomeStore, eventsPublished, withUrl, type AfterCommitRetry, type DeliveryOutcome } from '@notify/persistence';
import { RealtimeServer, type EmitOutcome } from '../realtime/realtime-server';
import { CLICK_LINKS } from '../clicks/click-links';
import { OutcomeRecorder } from './outcome-recorder';

export interface DeliverySettings {
  consumerGroup: string;
  deliveryConsumer: boolean;
  ackTimeoutMs: number;
  /**
   * A claimed delivery's lease runs this long past the longest an emit can take (`claimLeaseMs`):
   * time to record the outcome. Past it, the resend poller takes the send for lost (the gateway died
   * after the claim).
   */
  outcomeGraceMs: number;
  /**
   * At most this many emits are in flight (unanswered, or answered with their outcomes not yet known
   * recorded) when a batch is done: past it, the batch waits for them to fall below (`fewerInFlight`).
   */
  maxEmitsInFlight: number;
}
export const DELIVERY_SETTINGS = Symbol('DELIVERY_SETTINGS');

/** One emit: a single message, or all of one receiver's pending messages (a resend batch). */
interface Emission {
  userId: string;
  jobs: DeliveryJob[];
  batch: boolean;
}

/**
 * Consumes notify.deliver.websocket per batch: claims the batch's deliveries in one statement
 * (so a replayed job is not sent twice), commits the offsets, and emits each message — or each
 * resend batch, as one `notifications` event — to its user's room. Acknowledgements are recorded
 * as they arrive, in batches; a message past its expiry is recorded `expired` and not sent. A batch
 * is done once fewer than `maxEmitsInFlight` emits are in flight.
 */
@Injectable()
export class WebsocketDelivery implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumer?: BatchConsumer;
  /**
   * Emits answered, and their outcomes handed to the recorder, since the start; and how many of them
   * are known recorded (written, or given up on), as of the last `flush` a waiting batch made. The
   * recorder writes them on its own meanwhile: the difference is only an upper bound.
   */
  private answered = 0;
  private recorded = 0;
  /** Set as the consumer stops: a batch waiting for fewer emits in flight is done then. */
  private stopping = false;
  /** Ends the waits of the batches under way (`fewerInFlight`) when the consumer stops. */
  private readonly wakeOnStop = new Set<() => void>();

  constructor(
    kafka: Kafka,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    private readonly store: DeliveryOutcomeStore,
    private readonly realtime: RealtimeServer,
    private readonly outcomes: OutcomeRecorder,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    @Inject(DELIVERY_SETTINGS) private readonly settings: DeliverySettings,
    @Inject(FATAL_ERROR_HANDLER) onFatal: FatalErrorHandler,
    @Inject(CLICK_LINKS) private readonly links: ClickLinks | null,
    metrics: Metrics,
    @Optional() private readonly retry: AfterCommitRetry = AFTER_COMMIT_RETRY,
  ) {
    if (!settings.deliveryConsumer) return;
    this.consumer = new BatchConsumer(kafka, {
      groupId: settings.consumerGroup,
      topics: [Topics.deliver.websocket],
      logger,
      metrics,
      onFatal,
      handler: (records, progress) => this.deliver(records, progress),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.consumer?.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    for (const wake of this.wakeOnStop) wake();
    await this.consumer?.stop();
  }

  private async deliver(records: ConsumedRecord[], progress: () => void): Promise<void> {
    const { emissions, rejections } = this.read(records);
    if (rejections.length > 0) {
      for (const { record, code } of rejections) this.logger.warn({ partition: record.partition, offset: record.offset, code }, 'dead-lettering a record that is not a websocket delivery');
      await sendDeadLetters(this.producer, rejections);
    }
    const now = Date.now();
    const isLate = (job: DeliveryJob): boolean => job.expiresAt !== null && Date.parse(job.expiresAt) <= now;
    // A message without an inbox sequence number cannot be shown or synced by a browser: it ends
    // here rather than going round the resend poller until it is out of attempts.
    const unplaced = (job: DeliveryJob): boolean => job.message.seq === null;
    const live = emissions.map((e) => ({ ...e, jobs: e.jobs.filter((job) => !isLate(job) && !unplaced(job)) }));
    const ended = emissions.flatMap((e) =>
      e.jobs.flatMap((job): DeliveryOutcome[] => {
        if (isLate(job)) return [{ deliveryId: job.deliveryId, status: 'expired', error: null }];
        if (unplaced(job)) return [{ deliveryId: job.deliveryId, status: 'dead', error: ErrorCode.Internal }];
        return [];
      }),
    );
    // A browser is not a provider: what matters downstream is the acknowledgement (delivered) or its
    // absence (failed), so the claim's `sent` is recorded but not published.
    const claimed = await this.store.claimAttempts(
      live.flatMap((e) => e.jobs).map((job) => job.deliveryId),
      claimLeaseMs(this.settings),
    );
    // A job consumed twice in one batch (a replayed produce) is claimed once and emitted once.
    const emitted = new Set<string>();
    for (const emission of live) {
      const jobs = emission.jobs.filter((job) => claimed.has(job.deliveryId) && !emitted.has(job.deliveryId));
      for (const job of jobs) emitted.add(job.deliveryId);
      if (jobs.length > 0) this.emit({ ...emission, jobs }, claimed);
    }
    // Claimed deliveries are emitted first: if ending the others fails, the batch comes back, and
    // what was claimed would otherwise wait for its lease to run out.
    if (ended.length > 0) {
      const events = await this.store.endQueued(ended);
      await afterCommit('publishing ended deliveries', () => publishOutcomes(this.producer, events), this.logger, this.retry);
      await eventsPublished(events, this.logger);
    }
    await this.fewerInFlight(progress);
  }

  /** Emits unanswered, and answered ones whose outcomes are not known recorded. */
  private inFlight(): number {
    return this.realtime.unansweredEmits() + this.answered - this.recorded;
  }

  /**
   * Waits until fewer than `maxEmitsInFlight` emits are in flight, or the consumer stops (the batch is
   * done: its deliveries are claimed and emitted, and their outcomes come as they would). The consumer
   * fetches the next batch only then: fire and forget, a broadcast consumed faster than browsers
   * answered held every emit (and, with the cluster adapter, its NOTIFY waiting for a connection) in
   * memory: claim rate × acknowledgement timeout of them. An answered emit counts until a flush of the
   * recorder started after it is done, so a slow writer holds the batch too. Each emit ends by its
   * timeout and each write by its retries; every drop of the count is the batch's `progress()`, so
   * only a write that never ends (a database gone silent) makes the consumer take it for stuck.
   */
  private async fewerInFlight(progress: () => void): Promise<void> {
    const limit = this.settings.maxEmitsInFlight;
    let before = this.inFlight();
    while (!this.stopping && before >= limit) {
      const unrecorded = this.answered - this.recorded;
      await this.unlessStopping(unrecorded > 0 ? this.flushAnswered() : this.realtime.whenUnansweredBelow(limit));
      const now = this.inFlight();
      if (now < before) progress();
      before = now;
    }
  }

  /** Waits for `wait`, or until the consumer stops. (One promise for every wait would keep a callback of each until then.) */
  private async unlessStopping(wait: Promise<void>): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.wakeOnStop.add(wake);
    try {
      await Promise.race([wait, woken]);
    } finally {
      this.wakeOnStop.delete(wake);
    }
  }

  /** Writes the outcomes handed to the recorder so far, and counts them recorded once they are. */
  private async flushAnswered(): Promise<void> {
    const upTo = this.answered;
    await this.outcomes.flush();
    this.recorded = Math.max(this.recorded, upTo);
  }

  private emit({ userId, jobs, batch }: Emission, attempts: Map<string, number>): void {
    // No `url` key without a link: `url: undefined` reached a browser on another gateway as `null` when
    // the cluster adapter carried a large message (msgpack), which the contract does not allow.
    const messages = jobs.map(({ deliveryId, message: { url, ...message } }) => ({ ...message, ...withUrl(outgoingLink(this.links, deliveryId, url)), seq: message.seq! }) satisfies InboxMessage);
    const sent = batch ? this.realtime.emitNotifications(userId, messages) : this.realtime.emitNotification(userId, messages[0]!);
    void sent.then((outcome) => {
      const status = statusOf(outcome);
      for (const job of jobs) this.outcomes.add({ deliveryId: job.deliveryId, attempt: attempts.get(job.deliveryId), ...status });
      this.answered += 1;
    });
  }

  /**
   * The batch's emits: each resend batch as one, each other job on its own. What is not a websocket
   * delivery goes to the topic's dead-letter copy (contract: unchanged, with the error headers), where
   * it can be looked at and replayed; skipped, a job's delivery stayed queued with nothing to retry it.
   */
  private read(records: ConsumedRecord[]): { emissions: Emission[]; rejections: Rejection[] } {
    const { jobs, batches, rejections } = readJobs(records, 'websocket');
    const inBatches = new Set(batches.flatMap((batch) => batch.map((job) => job.deliveryId)));
    const emissions = [
      ...batches.map((batch) => ({ userId: batch[0]!.userId, jobs: batch, batch: true })),
      ...jobs.filter((job) => !inBatches.has(job.deliveryId)).map((job) => ({ userId: job.userId, jobs: [job], batch: false })),
    ];
    const userless = emissions.filter((e) => e.userId === null).length;
    // The message center and the poller never write one: a browser is reached only through its user.
    if (userless > 0) this.logger.error({ records: userless }, 'skipping websocket jobs without a user');
    return { emissions: emissions.filter((e): e is Emission => e.userId !== null), rejections };
  }
}

function statusOf(outcome: EmitOutcome): { status: 'delivered' | 'failed'; error: string | null } {
  switch (outcome) {
    case 'acknowledged':
      return { status: 'delivered', error: null };
    case 'offline':
      return { status: 'failed', error: ErrorCode.Offline };
    case 'ack_timeout':
      return { status: 'failed', error: ErrorCode.AckTimeout };
    case 'client_error':
      return { status: 'failed', error: ErrorCode.ClientError };
  }
}

/**
 * How long a claim of browser deliveries is leased for: an emit may first wait up to the
 * acknowledgement timeout for the cluster to settle (`RealtimeServer`; the reconnect window's wait
 * is bounded by the configuration to fit), then as long for its acknowledgement, and its outcome is
 * recorded within the grace. With the lease one timeout shorter,
 * an acknowledgement that came after a settling wait could come after the lease: the poller had
 * taken the delivery for unanswered and the fallback had pushed it too.
 */
export function claimLeaseMs({ ackTimeoutMs, outcomeGraceMs }: Pick<DeliverySettings, 'ackTimeoutMs' | 'outcomeGraceMs'>): number {
  return 2 * ackTimeoutMs + outcomeGraceMs;
}
