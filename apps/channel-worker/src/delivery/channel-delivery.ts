import type { Kafka, Producer } from 'kafkajs';
import { deliverTopic, outgoingLink, type ClickLinks, type DeliveryJob } from '@notify/contracts';
import type { WorkerChannel } from '@notify/config';
import { sendsClaimedAt } from '@notify/channels';
import { BatchConsumer, publishOutcomes, readJobs, sendDeadLetters, type ConsumedRecord, type FatalErrorHandler } from '@notify/kafka';
import type { AppLogger, Metrics } from '@notify/observability';
import { AFTER_COMMIT_RETRY, afterCommit, eventsPublished, type AfterCommitRetry, type ChannelDeliveryStore, type DeliveryOutcomeStore } from '@notify/persistence';
import type { ChannelSender } from '../senders/channel-sender';
import type { SendAttempt } from '../senders/send-attempt';
import type { DeliveryReport } from './delivery-report';
import { summarize } from './summaries';
import { givenBackAttempt, sendSummarized } from './summary-sends';
import { ProviderAcceptances } from './provider-acceptances';
import { TokenRefusalWatch } from './token-refusal-watch';
import { decideSends, type RetryTiming } from './outcome-policy';

/**
 * How long a claimed send may go without its outcome being recorded before the resend poller takes
 * it for lost and retries it: far longer than a batch's sends take under the providers' timeouts
 * and rate limits, so a slow batch is not sent twice.
 */
export const SEND_LEASE_MS = 10 * 60_000;

/**
 * How recording a part's outcomes is tried again: until shortly before the part's lease runs out,
 * since the record is taken until then, and for at least 90 s from `now` whatever is left of the
 * lease (calls may run until 9 minutes after the claim, `CALL_BUDGET_MS`; a record that comes too
 * late changes nothing), waiting at most 5 s between tries. Eight tries (about 45 s of waits, the
 * default) gave up during a PostgreSQL restart of a minute: the batch failed with what the providers
 * had accepted unrecorded, and once the lease ran out every message of it was sent again.
 */
export function recordingRetry(claimedAt: number, now = Date.now()): AfterCommitRetry {
  return { ...AFTER_COMMIT_RETRY, maxBackoffMs: 5_000, until: Math.max(claimedAt + SEND_LEASE_MS - 30_000, now + 90_000) };
}

export interface ChannelDeliverySettings {
  channel: WorkerChannel;
  groupId: string;
  maxBatchBytes: number;
  timing: RetryTiming;
}

export interface ChannelDeliveryDeps {
  sender: ChannelSender;
  claims: DeliveryOutcomeStore;
  outcomes: ChannelDeliveryStore;
  producer: Producer;
  report: DeliveryReport;
  clock: () => Date;
  logger: AppLogger;
  /** Where the consumer reports its lag. */
  metrics?: Metrics;
  /** Tracked links (contract §6); none: a message's link goes as it is. */
  links?: ClickLinks;
  /** What an accepted send's delivery receipts will name it by (architecture D24); none: its vendor sends none. */
  receiptKeyOf?: (attempt: SendAttempt) => string | undefined;
}

/**
 * One channel's consumer of notify.deliver.<channel>, per batch: expire what came too late, read
 * device tokens, claim (`queued` → `sent`, so a job consumed twice is sent once), send under the
 * channel's limit, record every outcome with its retry time in one transaction, publish them on
 * notify.events, and only then commit the offsets. Recording and publishing, which come after the
 * providers' answers, are tried again in place (`afterCommit`; recording until shortly before the
 * lease ends, `recordingRetry`) before the batch fails: failing it at once would hand it back with its
 * deliveries claimed, nothing would record what the providers did, and once the lease ran out every
 * message of the batch would be sent again.
 */
export class ChannelDelivery {
  private readonly consumer: BatchConsumer;
  private readonly tokenRefusals = new TokenRefusalWatch();
  private readonly acceptances: ProviderAcceptances;

  constructor(
    kafka: Kafka,
    private readonly settings: ChannelDeliverySettings,
    private readonly deps: ChannelDeliveryDeps,
    onFatal: FatalErrorHandler,
  ) {
    // Taken as silent for a retry wait already: this worker knows nothing of the time before it
    // started, and counting from the start, each restart during an outage cost its deliveries an attempt.
    this.acceptances = new ProviderAcceptances(deps.clock().getTime() - settings.timing.configurationRetryMs);
    this.consumer = new BatchConsumer(kafka, {
      groupId: settings.groupId,
      topics: [deliverTopic(settings.channel)],
      maxBytesPerPartition: settings.maxBatchBytes,
      logger: deps.logger,
      metrics: deps.metrics,
      onFatal,
      handler: (records, progress) => this.deliver(records, progress),
    });
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  /**
   * Claims nothing more: the chunk in hand is recorded and published, and the rest of its batch
   * stays queued, its offsets uncommitted, for the partition's next owner to send at once. Of the
   * chunk, only the sends already made are waited for (the providers are stopped first,
   * `ChannelProviders.stopSending`): the others are recorded `failed`, due at once, with their
   * attempt given back. Going on through a whole batch (minutes of mail over a few connections), or
   * through the chunk in hand (three partitions' 100 mails each over 5 connections), outlasted the
   * supervisor's grace, and what was killed between its sends and their record was sent again after
   * its lease.
   */
  stop(): Promise<void> {
    this.stopping = true;
    return this.consumer.stop();
  }
  private stopping = false;

  private async deliver(records: ConsumedRecord[], progress: () => void): Promise<void> {
    const { channel } = this.settings;
    const { producer, logger } = this.deps;
    const { jobs, batches, rejections } = readJobs(records, channel);
    for (const { record, code } of rejections) logger.warn({ partition: record.partition, offset: record.offset, code }, 'dead-lettering a record that is not a delivery job');
    await sendDeadLetters(producer, rejections);

    for (const chunk of chunksOf(jobs, batches, JOBS_PER_CLAIM[channel])) {
      if (this.stopping) throw new Error(`stopping: the rest of a ${channel} batch is left queued for the partition's next owner`);
      await this.deliverChunk(chunk);
      progress();
    }
  }

  /**
   * Expires what came too late, then claims, sends, records and publishes one chunk of the batch's
   * jobs, under a lease of its own. Late is judged per chunk: a batch's later chunks go minutes after
   * its first.
   */
  private async deliverChunk(chunk: Chunk): Promise<void> {
    const { sender, claims, outcomes, producer, report, clock, logger } = this.deps;
    const { channel } = this.settings;
    const now = clock().getTime();
    const isLate = (job: DeliveryJob): boolean => job.expiresAt !== null && Date.parse(job.expiresAt) <= now;
    const expired = await outcomes.expire(chunk.jobs.filter(isLate).map((job) => job.deliveryId));
    report.expired(channel, expired.length);
    // Committed on their own: published now, for a failure further on brings the batch back, and
    // then these deliveries are expired already and nothing would publish them.
    await afterCommit('publishing expired deliveries', () => publishOutcomes(producer, expired), logger);
    await eventsPublished(expired, logger);

    const jobs = chunk.jobs.filter((job) => !isLate(job));
    const singles = chunk.singles.filter((job) => !isLate(job));
    const batches = chunk.batches.map((batch) => batch.filter((job) => !isLate(job)));
    const plan = await sender.plan(jobs);
    // The claim's interim `sent` is not published: one event per attempt, after the provider answered, says what happened.
    const claimedAt = Date.now();
    const claimed = await claims.claimSends(jobs.map((job) => job.deliveryId), SEND_LEASE_MS);
    // The claim counts the attempt; the job's own number may be stale (a re-send of an older job).
    const sendable = (job: DeliveryJob): DeliveryJob[] => (claimed.has(job.deliveryId) ? [{ ...job, attempt: claimed.get(job.deliveryId)!.attempt }] : []);
    const summarized = summarize(
      singles.flatMap(sendable),
      batches.map((batch) => batch.flatMap(sendable)).filter((batch) => batch.length > 0),
      sender.textLimit,
    );
    const withLinks = (job: DeliveryJob): DeliveryJob => (job.message.url ? { ...job, message: { ...job.message, url: outgoingLink(this.deps.links, job.deliveryId, job.message.url) } } : job);
    const send = (jobs: DeliveryJob[]) => plan.send(jobs.map(withLinks));
    // Every call of the part counts its time from the claim, which began its lease.
    const { attempts: answers, members, splitMessages, givenBack } = await sendsClaimedAt.run(claimedAt, () => sendSummarized(send, summarized, JOBS_PER_CLAIM[channel]));
    if (splitMessages > 0) logger.warn({ messages: splitMessages }, 'a summary or digest was refused for its content: its messages went each on its own');
    if (givenBack.length > 0) logger.warn({ messages: givenBack.length }, `more ${channel} sends than one claim takes: the rest are given back, due at once`);
    const sent = this.tokenRefusals.review(answers);
    for (const provider of sent.suspected) {
      logger.error({ provider, alert: 'provider_configuration' }, `${provider} refused every recent device token: taken for a configuration problem, tokens kept`);
    }
    // A summary's outcome is each of its messages' outcome. What was given back unsent is recorded,
    // but is no provider's answer: the report leaves it out.
    const decidedAt = clock();
    const timing = { ...this.settings.timing, silentForMs: this.acceptances.observe(sent.attempts, decidedAt.getTime()) };
    const answered = decideSends(sent.attempts, members, decidedAt, timing);
    const back = decideSends(givenBack.map((job) => givenBackAttempt(job, channel)), new Map(), decidedAt, timing);
    const [attempts, decisions] = [[...answered.attempts, ...back.attempts], [...answered.decisions, ...back.decisions]];
    const recorded = await afterCommit(
      'recording outcomes',
      () =>
        outcomes.record(
          decisions.map((d, i) => ({
            ...d.outcome,
            attempt: attempts[i]!.job.attempt,
            lease: claimed.get(attempts[i]!.job.deliveryId)?.lease,
            receiptKey: d.outcome.status === 'sent' ? this.deps.receiptKeyOf?.(attempts[i]!) : undefined,
          })),
          decisions.flatMap((d) => d.deactivation ?? []),
        ),
      logger,
      recordingRetry(claimedAt),
    );
    report.sent(channel, answered.attempts, answered.decisions);
    await afterCommit('publishing outcomes', () => publishOutcomes(producer, recorded), logger);
    await eventsPublished(recorded, logger);
  }
}

/**
 * Jobs claimed and sent at a time, each part under a lease of its own (`SEND_LEASE_MS`): a fetch of
 * 768 KiB holds about 768 one-KB emails, which an SMTP server taking 4 s a mail over 5 connections
 * sends in 10 minutes, so under one claim the last of them outlived the lease, were taken for lost
 * and sent again. A resend batch is never split.
 */
export const JOBS_PER_CLAIM: Record<WorkerChannel, number> = { push: 1_000, sms: 100, email: 100 };

interface Chunk {
  jobs: DeliveryJob[];
  singles: DeliveryJob[];
  batches: DeliveryJob[][];
}

/** The jobs in parts of about `size`: single jobs, and resend batches whole (only their jobs among `live`). */
export function chunksOf(live: DeliveryJob[], batches: DeliveryJob[][], size: number): Chunk[] {
  const liveIds = new Set(live.map((job) => job.deliveryId));
  const inBatch = new Set(batches.flat().map((job) => job.deliveryId));
  const units = [
    ...batches.map((batch) => ({ jobs: batch.filter((job) => liveIds.has(job.deliveryId)), batch: true })),
    ...live.filter((job) => !inBatch.has(job.deliveryId)).map((job) => ({ jobs: [job], batch: false })),
  ].filter((unit) => unit.jobs.length > 0);
  const chunks: Chunk[] = [];
  let chunk: Chunk = { jobs: [], singles: [], batches: [] };
  for (const unit of units) {
    if (chunk.jobs.length > 0 && chunk.jobs.length + unit.jobs.length > size) {
      chunks.push(chunk);
      chunk = { jobs: [], singles: [], batches: [] };
    }
    chunk.jobs.push(...unit.jobs);
    if (unit.batch) chunk.batches.push(unit.jobs);
    else chunk.singles.push(...unit.jobs);
  }
  if (chunk.jobs.length > 0) chunks.push(chunk);
  return chunks;
}
