import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import type { Gauge } from 'prom-client';
import type { AppLogger, Metrics } from '@notify/observability';
import { PartitionFailures } from './partition-failures';
import { recordHeaders } from './record-headers';

/** How long after kafkajs stopped the consumer for a missing group coordinator it is run again. */
const RUN_AGAIN_AFTER_MS = 1_000;

/**
 * Whether kafkajs stopped for want of a group coordinator: `KafkaJSGroupCoordinatorNotFound`, not
 * retriable to it, maybe wrapped by its retrier in a `KafkaJSNonRetriableError` whose cause it is.
 */
function isCoordinatorNotFound(error: unknown): boolean {
  for (let cause = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (cause.name === 'KafkaJSGroupCoordinatorNotFound') return true;
  }
  return false;
}

/** A record of one consumed batch, with what a handler needs to act on it or dead-letter it. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  timestamp: string;
}

/**
 * Handles one batch. A handler that works through a batch in parts (a batch of broadcasts, one
 * transaction at a time) calls `progress()` after each: the batch is taken for stuck only when no
 * progress came for `maxBatchMs`.
 *
 * A handler whose writes must not land after another member's newer ones (the last write wins, as
 * in the recipient tables) calls `holdsPartition()` in its transaction, after its writes and before
 * it commits. It throws when the group coordinator does not confirm, within a heartbeat interval,
 * that this member is still in the group as it was when the batch was fetched, and the transaction
 * rolls back. Passed, no other member has the partition: a rebalance waits for this member's batch,
 * up to its rebalance timeout. That narrows the window to the commit itself, which could still be
 * late past a rebalance timeout. It throws for a batch that went on alone (`detachAfterMs`), whose
 * member rejoins meanwhile: a handler that calls it must not let its batches go on alone.
 */
export type BatchHandler = (records: ConsumedRecord[], progress: () => void, holdsPartition: () => Promise<void>) => Promise<void>;

export interface BatchConsumerOptions {
  groupId: string;
  topics: string[];
  handler: BatchHandler;
  logger: AppLogger;
  /** Called when the consumer has crashed and kafkajs will not restart it; the app should exit non-zero. */
  onFatal: (error: Error) => void;
  maxBytesPerPartition?: number;
  partitionsConsumedConcurrently?: number;
  fromBeginning?: boolean;
  /** How long the group waits for a silent member before handing its partitions to another (15 s). */
  sessionTimeoutMs?: number;
  /**
   * How long a rebalance waits for this member to finish its batch and rejoin (60 s); a member that
   * takes longer is dropped from the group and rejoins after its batch. At least the longest batch.
   */
  rebalanceTimeoutMs?: number;
  /**
   * How long the handler may fail without a success in between before the consumer gives up and
   * `onFatal` is called (10 minutes): long enough for a database restart, short enough that a
   * process whose batches can never succeed exits for its supervisor instead of retrying for ever.
   * So does a consumer restarted for that long without joining its group (a broker outage).
   */
  giveUpAfterMs?: number;
  /** Tries of a failing batch before kafkajs restarts the consumer (10). */
  retries?: number;
  /**
   * How long one batch may stay in the handler with no progress (the handler's `progress()`) before
   * the consumer takes it for stuck and `onFatal` is called, also while it is stopping (15 minutes). A
   * handler waiting on a database connection whose server vanished without a word never returns and
   * never fails; its heartbeats would keep the partitions for ever, with nothing consumed and nothing
   * to restart. A batch that is only long reports progress part by part.
   */
  maxBatchMs?: number;
  /**
   * How long a batch may keep the consumer's fetching waiting (1 s). kafkajs fetches again only when
   * every batch of the last fetch is done, so one slow batch (a broadcast to many users, a database
   * slow to answer) held up every other partition: a one-time code waited behind a newsletter. A
   * batch still in its handler after this long goes on alone, its partition paused, while the others
   * are fetched and handled; its offsets are committed when it is done, as before, and its partition
   * resumed. At most `partitionsConsumedConcurrently` batches go on alone at once.
   */
  detachAfterMs?: number;
  /** The clock `giveUpAfterMs` is measured by (`Date.now`); a test moves it by hand. */
  now?: () => number;
  /** Where the consumer reports its lag per partition (`notify_kafka_consumer_lag`). */
  metrics?: Metrics;
}

const LAG_METRIC = 'notify_kafka_consumer_lag';

/**
 * The records of a partition not yet handled, as of the last fetch: set when a batch arrives (it
 * and what follows it) and when its offsets are committed (what follows it). A consumer that keeps
 * up but falls behind fails nothing and gives up nowhere; this is where it shows. One gauge per
 * app, which all its consumers share.
 */
function lagGauge(metrics: Metrics): Gauge {
  const registered = metrics.registry.getSingleMetric(LAG_METRIC) as Gauge | undefined;
  return registered ?? metrics.gauge(LAG_METRIC, 'Records of a partition not yet handled by the consumer group, as of its last fetch', ['group', 'topic', 'partition']);
}

/** The errors of a heartbeat on which kafkajs rejoins the group (its runner, `isRebalancing` and UNKNOWN_MEMBER_ID). */
const REJOINING = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'NOT_COORDINATOR_FOR_GROUP', 'UNKNOWN_MEMBER_ID']);

/**
 * Runs a handler per Kafka batch. Offsets are committed only after the handler has resolved,
 * that is after the batch's database transaction has committed: at-least-once, never lost.
 * A handler that throws leaves the offsets alone; kafkajs retries the batch.
 */
export class BatchConsumer {
  private readonly consumer: Consumer;
  private readonly heartbeatMs: number;
  private readonly now: () => number;
  /** The options' limits, defaults applied. */
  private readonly limits: { concurrency: number; giveUpAfterMs: number; maxBatchMs: number; detachAfterMs: number };
  /**
   * Errors of `holdsPartition()` that make kafkajs rejoin the group (`REJOINING`). They say nothing of
   * the handler (the batch is handled again once the member has rejoined), so they do not count
   * towards giving up; a coordinator that does not answer in time does.
   */
  private readonly rejoinErrors = new WeakSet<object>();
  private running = false;
  private readonly failures = new PartitionFailures();
  /** Batches that went on alone, their partitions paused, by partition, until they are done. */
  private readonly alone = new Map<string, Promise<void>>();
  /**
   * Partitions whose batch went on alone and that a join since gave to another member, also when a
   * later join gave them back, or that this member held when it was dropped from the group: another
   * member may have handled and committed past that batch since.
   */
  private readonly lostWhileAlone = new Set<string>();
  /** This member's id at its last join. */
  private memberId: string | undefined;
  /** The partitions the group gave this member at its last join; unknown before the first. */
  private assigned: Set<string> | undefined;
  /** The consumer's lag by partition, when it reports it. */
  private readonly lag: Gauge | undefined;
  /** When kafkajs first restarted the consumer since it last joined its group, if it has since. */
  private crashedSince: number | undefined;
  /** Resolves once a stuck batch made the consumer give up: a stop then waits for it no longer. */
  private readonly gaveUp: Promise<void>;
  private giveUpNow: () => void = () => undefined;
  /** Resolves when `stop` is called: a failed batch's wait before it is fetched again ends then. */
  private readonly stopping: Promise<void>;
  private stopNow: () => void = () => undefined;

  constructor(
    kafka: Kafka,
    private readonly options: BatchConsumerOptions,
  ) {
    // A member that died (kill -9) holds its partitions until the session runs out.
    const sessionTimeout = options.sessionTimeoutMs ?? 15_000;
    this.heartbeatMs = Math.min(3_000, Math.floor(sessionTimeout / 3));
    this.now = options.now ?? Date.now;
    this.limits = {
      concurrency: options.partitionsConsumedConcurrently ?? 3,
      giveUpAfterMs: options.giveUpAfterMs ?? 600_000,
      maxBatchMs: options.maxBatchMs ?? 900_000,
      detachAfterMs: options.detachAfterMs ?? 1_000,
    };
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      allowAutoTopicCreation: false,
      sessionTimeout,
      rebalanceTimeout: Math.max(options.rebalanceTimeoutMs ?? 60_000, sessionTimeout),
      heartbeatInterval: this.heartbeatMs,
      // A partition resumed after its batch went on alone is fetched from the next fetch on: the long
      // poll of the others' (kafkajs's default 5 s when they are idle) would keep it waiting that long.
      maxWaitTimeInMs: 500,
      retry: {
        retries: options.retries ?? 10,
        // No wait between tries as long as the session: nothing heartbeats while the retrier waits, and
        // with kafkajs's default (up to 30 s) every member was dropped from the group, and the group
        // rebalanced again and again, while a database was down.
        maxRetryTime: Math.floor(sessionTimeout / 2),
        restartOnFailure: async (error) => {
          // A crash that raced `stop()`: restarted, the consumer would join again and hold its
          // partitions, paused, until the process is gone.
          if (!this.running) return false;
          if (this.failedTooLong(error) || this.outOfTheGroupTooLong(error)) return false;
          options.logger.error({ err: error }, 'kafka consumer failed; restarting it');
          return true;
        },
      },
    });
    this.lag = options.metrics && lagGauge(options.metrics);
    this.gaveUp = new Promise((resolve) => (this.giveUpNow = resolve));
    this.stopping = new Promise((resolve) => (this.stopNow = resolve));
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.crashedSince = undefined;
      this.failures.keepOnly(payload.memberAssignment);
      const assigned = new Set(Object.entries(payload.memberAssignment).flatMap(([topic, partitions]) => partitions.map((p) => `${topic}:${p}`)));
      // Under a new member id this member was dropped from the group and joined again: the group gave
      // its partitions to others meanwhile without it seeing that join.
      const rejoined = this.memberId !== undefined && payload.memberId !== this.memberId;
      for (const partition of this.alone.keys()) if (rejoined || !assigned.has(partition)) this.lostWhileAlone.add(partition);
      // Another member reports the partitions this one no longer holds.
      for (const partition of this.assigned ?? []) if (!assigned.has(partition)) this.reportLag(partition, undefined);
      this.memberId = payload.memberId;
      this.assigned = assigned;
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart || !this.running) return;
      if (isCoordinatorNotFound(payload.error) && !this.outOfTheGroupTooLong(payload.error)) return this.runAgain(payload.error);
      options.onFatal(payload.error);
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.options.topics, fromBeginning: this.options.fromBeginning ?? true });
    this.running = true;
    await this.run();
  }

  private run(): Promise<void> {
    return this.consumer.run({
      // Partitions hold disjoint users, so their batches can be worked on at the same time.
      partitionsConsumedConcurrently: this.limits.concurrency,
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.consume(payload),
    });
  }

  /**
   * kafkajs stops the consumer for good, as not retriable, when no broker names the group's
   * coordinator; a broker that has just restarted answers so while it loads the group offsets, and
   * the process consumed nothing until its supervisor restarted it. It is run again here, as kafkajs
   * restarts it after other failures, until it has been out of its group for `giveUpAfterMs`.
   */
  private runAgain(error: Error): void {
    this.options.logger.error({ err: error }, 'kafka consumer failed; restarting it');
    const timer = setTimeout(() => {
      if (this.running) void this.run().catch((failed: unknown) => this.options.onFatal(failed instanceof Error ? failed : new Error(String(failed))));
    }, RUN_AGAIN_AFTER_MS);
    void this.stopping.then(() => clearTimeout(timer));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopNow();
    // The batches that went on alone commit their offsets before the consumer leaves the group (none
    // goes on alone from now on), unless one is stuck and the consumer has given up.
    await Promise.race([Promise.allSettled([...this.alone.values()]), this.gaveUp]);
    await this.consumer.disconnect();
  }

  private async consume(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale, pause } = payload;
    if (batch.messages.length === 0 || !isRunning() || isStale()) return;
    // Stopping while batches that went on alone finish: nothing new starts, nor is it fetched again.
    if (!this.running) return void pause();
    const partition = `${batch.topic}:${batch.partition}`;
    // The partition's earlier batch is still going on alone (a rebalance gave the partition back, or
    // kafkajs restarted the consumer, which forgets pauses): this one waits for it, then comes again.
    const earlier = this.alone.get(partition);
    if (earlier) {
      const resume = pause();
      void earlier.finally(() => this.running && resume());
      return;
    }
    const records = batch.messages.map((message) => toRecord(batch.topic, batch.partition, message));
    // kafkajs's low lag leaves out the batch's first record.
    this.reportLag(partition, Number(batch.offsetLagLow()) + 1);
    // kafkajs heartbeats only when asked. A handler that outlasted the session (a topic with many
    // subscribers, a slow database) would lose its partitions, fail its commit and get its batch
    // again, maybe for ever; so the session is kept alive while the handler works and commits.
    const beating = setInterval(() => void heartbeat().catch(() => undefined), this.heartbeatMs);
    const stuck = this.watchForStuck(batch.topic, batch.partition, batch.firstOffset(), () => clearInterval(beating));
    let wentOnAlone = false;
    const holdsPartition = async (): Promise<void> => {
      if (wentOnAlone) throw new Error(`holdsPartition() cannot answer for a batch that went on alone (${partition})`);
      try {
        await this.inGroup(heartbeat);
      } catch (error) {
        if (REJOINING.has((error as { type?: string } | null)?.type ?? '')) this.rejoinErrors.add(error as object);
        throw error;
      }
    };
    const last = batch.messages[batch.messages.length - 1]!.offset;
    const work = (async () => {
      try {
        await this.handle(partition, records, stuck.progress, holdsPartition);
        // A batch that went on alone may outlive the member's hold on its partition: its writes are
        // done, but the offset is the new owner's to commit (the broker would take it from anyone, and
        // could move the group's offset back). So too when the partition has come back since: the
        // member it went to in between has committed past this batch.
        if (!this.holdsThroughout(partition)) return;
        // The group's own commit, not the consumer's: its errors come out as the broker gave them, so a
        // member dropped from the group while its batch ran (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
        // UNKNOWN_MEMBER_ID) makes kafkajs rejoin. The consumer's commitOffsets wraps them as
        // non-retriable, which crashed the consumer for good. The batch is then handled again, which
        // the handlers' idempotent writes allow.
        await commitOffsetsIfNecessary({ topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }] }] });
        this.reportLag(partition, Number(batch.offsetLag()));
      } finally {
        clearInterval(beating);
        stuck.stop();
      }
    })();
    if (await this.outlasts(work)) {
      wentOnAlone = true;
      const resume = pause();
      return this.goOnAlone(work, partition, () => this.holdsThroughout(partition) && resolveOffset(last), resume);
    }
    await work;
    resolveOffset(last);
    await heartbeat();
  }

  /** Sets the partition's lag (`topic:partition`), or takes it away. */
  private reportLag(partition: string, lag: number | undefined): void {
    if (!this.lag) return;
    const at = partition.lastIndexOf(':');
    const labels = { group: this.options.groupId, topic: partition.slice(0, at), partition: partition.slice(at + 1) };
    if (lag === undefined) this.lag.remove(labels);
    else this.lag.set(labels, lag);
  }

  /**
   * Calls `onFatal` when the batch's handler has made no progress for `maxBatchMs` (`progress()`
   * starts the wait again), also while stopping: the consumer's disconnect waits for such a batch,
   * which never ends. `beforeGivingUp` stops the batch's heartbeats.
   */
  private watchForStuck(topic: string, partition: number, offset: string | null, beforeGivingUp: () => void): { progress: () => void; stop: () => void } {
    const { maxBatchMs } = this.limits;
    const giveUp = (): void => {
      beforeGivingUp();
      const error = new Error(`a batch of ${topic} partition ${partition} has made no progress in the handler for ${maxBatchMs} ms; giving up`);
      this.options.logger.error({ err: error, offset }, 'kafka consumer handler is stuck; giving up');
      this.giveUpNow();
      this.options.onFatal(error);
    };
    let timer = setTimeout(giveUp, maxBatchMs);
    return {
      progress: () => {
        clearTimeout(timer);
        timer = setTimeout(giveUp, maxBatchMs);
      },
      stop: () => clearTimeout(timer),
    };
  }

  /**
   * Resolves when the group coordinator confirms this member is still in the group (a heartbeat) or
   * kafkajs sent the last confirmation less than a heartbeat interval ago; no rebalance gives a
   * partition away that fast, as it waits for this member to rejoin or for its rebalance timeout.
   * Throws kafkajs's error when the group is rebalancing or has dropped this member (for kafkajs to
   * rejoin as the error leaves the batch), and one of its own when no answer came within the interval:
   * a caller holding row locks does not wait on a coordinator that has gone silent.
   */
  private async inGroup(heartbeat: () => Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const silent = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`the group coordinator did not answer a heartbeat within ${this.heartbeatMs} ms`)), this.heartbeatMs);
    });
    try {
      await Promise.race([heartbeat(), silent]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Whether the batch's work is still running after `detachAfterMs`, while the consumer runs and
   * fewer than `partitionsConsumedConcurrently` batches go on alone (both checked then, not at the
   * start); a failure before then is thrown, for kafkajs to retry the batch.
   */
  private async outlasts(work: Promise<void>): Promise<boolean> {
    const { detachAfterMs: afterMs, concurrency: most } = this.limits;
    if (!Number.isFinite(afterMs)) return false;
    let timer: NodeJS.Timeout | undefined;
    const later = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(this.running && this.alone.size < most), afterMs)));
    try {
      return await Promise.race([work.then(() => false), later]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Whether a partition has failed without a success for `giveUpAfterMs` (10 minutes): long enough
   * for a database restart; after it the consumer gives up, for its supervisor to restart the process.
   */
  private failedTooLong(error: unknown): boolean {
    const failingMs = this.failures.longestMs(this.now());
    if (failingMs < this.limits.giveUpAfterMs) return false;
    this.options.logger.error({ err: error, failingMs }, 'kafka consumer handler has failed without a success for too long; giving up');
    return true;
  }

  /**
   * Whether the consumer has been restarted over `giveUpAfterMs` without joining its group once: the
   * broker gone, or its group coordinator unavailable. Its handler never runs then, so
   * `failedTooLong` never sees it, and the process would stay up consuming nothing.
   */
  private outOfTheGroupTooLong(error: unknown): boolean {
    const now = this.now();
    this.crashedSince ??= now;
    const outMs = now - this.crashedSince;
    if (outMs < this.limits.giveUpAfterMs) return false;
    this.options.logger.error({ err: error, outMs }, 'kafka consumer has not joined its group for too long; giving up');
    return true;
  }

  /** Whether the group still gives the partition to this member (as far as its last join says). */
  private owns(partition: string): boolean {
    return this.assigned === undefined || this.assigned.has(partition);
  }

  /** Whether the partition has been this member's all along since its batch began (`owns`, and never lost while the batch went on alone). */
  private holdsThroughout(partition: string): boolean {
    return this.owns(partition) && !this.lostWhileAlone.has(partition);
  }

  /**
   * A batch going on alone, its partition paused. Done, its offset is the fetch's next position and
   * the partition is fetched again. Failed, the partition is fetched again after a wait, from the
   * batch's first offset (nothing was resolved), as kafkajs retries a batch; after failing for
   * `giveUpAfterMs`, the consumer gives up as it does for a batch that fails in the fetch's turn.
   * Stopping, it is not fetched again.
   */
  private goOnAlone(work: Promise<void>, partition: string, resolve: () => void, resume: () => void): void {
    const alone = work.then(
      () => {
        resolve();
        if (this.running) resume();
      },
      async (error: unknown) => {
        if (this.failedTooLong(error)) return this.options.onFatal(error instanceof Error ? error : new Error(String(error)));
        if (!this.running) return;
        this.options.logger.error({ err: error, partition }, 'kafka batch failed; fetching it again');
        const failingMs = this.failures.longestMs(this.now());
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([new Promise((wait) => (timer = setTimeout(wait, Math.min(30_000, Math.max(500, failingMs))))), this.stopping]);
        clearTimeout(timer);
        if (this.running) resume();
      },
    );
    this.alone.set(partition, alone);
    void alone.finally(() => {
      this.alone.delete(partition);
      this.lostWhileAlone.delete(partition);
    });
  }

  private async handle(partition: string, records: ConsumedRecord[], progress: () => void, holdsPartition: () => Promise<void>): Promise<void> {
    try {
      await this.options.handler(records, progress, holdsPartition);
      this.failures.succeeded(partition);
    } catch (error) {
      // A batch that went on alone can fail after a rebalance gave its partition to another member:
      // timed here, its failure was never cleared (only a join clears them) and made this member
      // exit at its next blip, ten minutes on. An error of `holdsPartition()` is the group's, not the handler's.
      if (this.owns(partition) && !this.rejoinErrors.has(error as object)) this.failures.failed(partition, this.now());
      throw retriable(error);
    }
  }
}

/** The errors kafkajs's retrier takes for a bug that no retry mends: it stops the consumer for good on the first. */
const UNRECOVERABLE_IN_KAFKAJS = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError']);

/**
 * A handler's error as kafkajs retries it. A TypeError or RangeError can come of one record (kafkajs
 * threw one writing a header without a value to a dead-letter topic) or of a driver in a bad moment;
 * passed on as it was, the consumer crashed at once, with no retry and no restart, and the process
 * exited on every start at the same batch.
 */
function retriable(error: unknown): unknown {
  if (!(error instanceof Error) || !UNRECOVERABLE_IN_KAFKAJS.has(error.name)) return error;
  return new Error(`batch handler failed: ${error.name}: ${error.message}`, { cause: error });
}

function toRecord(topic: string, partition: number, message: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key,
    value: message.value,
    headers: recordHeaders(message.headers),
    timestamp: message.timestamp,
  };
}
