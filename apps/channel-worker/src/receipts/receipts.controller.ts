import { timingSafeEqual } from 'node:crypto';
import {
  BadRequestException,
  type BeforeApplicationShutdown,
  Body,
  Controller,
  ForbiddenException,
  Headers,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Query,
  Res,
  ServiceUnavailableException,
} from '@nestjs/common';
import { BulkheadRejectedError, bulkhead, type BulkheadPolicy } from 'cockatiel';
import type { Response } from 'express';
import type { Producer } from 'kafkajs';
import type { Counter } from 'prom-client';
import { HeldBackAlerts, ProviderErrorCode, ReceiptFormatError, type ReceiptStatus } from '@notify/channels';
import type { ChannelWorkerConfig } from '@notify/config';
import { KAFKA_PRODUCER, publishOutcomes } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { ChannelDeliveryStore, eventsPublished, type ReceiptOutcome, type ReceiptsTaken, type RecordedOutcome } from '@notify/persistence';
import { WORKER_CLOCK, WORKER_SETTINGS } from '../delivery/channel-workers';
import { DeliveryReport } from '../delivery/delivery-report';
import { ChannelProviders, type AnyProvider } from '../providers/channel-providers';
import { BoundedWork } from './bounded-work';
import { receiptOutcomeOf } from './receipt-outcomes';

/** The longest a provider's configuration alert stays unrepeated while its receipts keep blaming us. */
const ALERT_EVERY_MS = 60_000;

/** What Aliyun's report push waits for; the other vendors look at the HTTP status only. */
const TAKEN = { code: 0, msg: 'ok' };

/** Receipts' events being published at most at once (`publishSoon`). */
export const MAX_EVENTS_PUBLISHING = 1_000;

/**
 * Receipt requests written at once: a quarter of the database pool, at least one, so that a storm of
 * receipts does not hold up the record of sends (the chunks' claims and outcomes) behind it in pg's
 * pool. `RECEIPTS_WAITING_PER_WRITER` times as many wait their turn; a request past them is answered
 * 503 with `Retry-After`.
 */
export function receiptsAtOnce(databasePoolSize: number): number {
  return Math.max(1, Math.floor(databasePoolSize / 4));
}

/**
 * Receipt requests waiting their turn, per one written at once. Generous: three of the five vendors
 * drop a receipt answered 503 (`RECEIPT_RETRY_AFTER_S`), and Twilio posts one status callback a
 * message, so a burst of sends comes back as a burst of receipts that must wait, not be refused.
 */
export const RECEIPTS_WAITING_PER_WRITER = 100;

/**
 * The `Retry-After` (seconds) of a receipt refused for the database's share being taken. What each
 * vendor does with the 503, by its documents: Aliyun's report push retries any answer but a 200, 1, 5
 * and 10 minutes later, then drops the report. Bounces (`tools/mail/post-bounce.sh`) exit 75
 * (EX_TEMPFAIL), and the mail system keeps the mail and posts it again later. Twilio retries a status
 * callback only when it cannot connect (its connection overrides' default retry policy, `ct`), not on
 * a 5xx: that status is lost. Push Kit and Mi Push document no retry of a receipt refused: lost too.
 * A lost receipt leaves its send as recorded (`sent`); the refusals are counted (`busy`).
 */
export const RECEIPT_RETRY_AFTER_S = 1;

/**
 * Vendors' delivery receipts (architecture D24): `POST /receipts/{provider}`. Twilio's, and
 * Huawei's when its callback key is set, are checked against the vendor's signature; those of
 * vendors that sign nothing (and bounces) are taken only at a URL with the
 * installation's token (`?token=`, `CHANNEL_WORKER_RECEIPTS_TOKEN`). Each receipt makes the send it
 * names `delivered`, `failed` or `dead`, in one transaction with its events, which go out on
 * notify.events after the answer (the outbox's relay publishes them if this process cannot).
 * Those transactions have a quarter of the database pool (`receiptsAtOnce`), a hundred times as many
 * requests waiting; a request past them is answered 503 with `Retry-After` (`RECEIPT_RETRY_AFTER_S`).
 */
@Controller('receipts')
export class ReceiptsController implements BeforeApplicationShutdown {
  private readonly receipts: Counter;
  /** Each provider's configuration alert, at most once a minute. */
  private readonly alerts = new HeldBackAlerts(ALERT_EVERY_MS);
  /** The receipts' share of the database pool (`receiptsAtOnce`) and its waiting list. */
  private readonly writes: BulkheadPolicy;
  /** Set while receipts are being refused: the warning is logged once a spell, not once a request. */
  private refusing = false;

  constructor(
    private readonly providers: ChannelProviders,
    private readonly store: ChannelDeliveryStore,
    private readonly report: DeliveryReport,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(WORKER_SETTINGS) private readonly config: ChannelWorkerConfig,
    @Inject(WORKER_CLOCK) private readonly clock: () => Date,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    metrics: Metrics,
  ) {
    this.receipts = metrics.counter(
      'notify_channel_receipts_total',
      'Delivery receipt statuses by what they did: delivered, failed, dead, waiting (for their send to be recorded), unmatched; refused requests, and busy ones (answered 503: the receipts\' share of the database pool was taken)',
      ['provider', 'result'],
    );
    const atOnce = receiptsAtOnce(config.databasePoolSize);
    this.writes = bulkhead(atOnce, atOnce * RECEIPTS_WAITING_PER_WRITER);
  }

  @Post(':provider')
  @HttpCode(200)
  async receive(
    @Param('provider') id: string,
    @Query('token') token: unknown,
    @Headers() headers: Record<string, string | string[] | undefined>,
    @Body() body: unknown,
    @Res({ passthrough: true }) response: Response,
  ): Promise<typeof TAKEN> {
    const provider = this.providers.receiptSender(id);
    if (provider?.parseReceipt === undefined) throw new NotFoundException(`no delivery receipts are taken from ${id}`);
    const vendorSigns = provider.receipts === 'signed';
    const genuine = vendorSigns ? provider.receiptSigned?.({ headers, body }) === true : this.tokenMatches(token);
    if (!genuine) {
      this.receipts.inc({ provider: provider.id, result: 'refused' });
      throw new ForbiddenException(vendorSigns ? 'the receipt is not signed by the vendor' : 'the receipt URL lacks the right token');
    }
    const statuses = await parse(async () => provider.parseReceipt!(body));
    const receivedAt = this.clock();
    const outcomes = statuses.flatMap((status) => receiptOutcomeOf(provider.id, provider.channel, status, receivedAt) ?? []);
    const taken = await this.inTurn(provider.id, response, () =>
      this.store.receive(outcomes, { configurationRetryMs: this.config.configurationRetryMs }),
    );
    this.count(provider.id, statuses.length, outcomes, taken);
    this.alertOnConfiguration(provider, outcomes, taken);
    this.publishSoon(taken.events);
    return TAKEN;
  }

  /**
   * Writes the receipts in the receipts' share of the pool, after those before them; past the
   * waiting list the request is answered 503 with `Retry-After` (`RECEIPT_RETRY_AFTER_S`).
   */
  private async inTurn(provider: string, response: Response, write: () => Promise<ReceiptsTaken>): Promise<ReceiptsTaken> {
    try {
      const taken = await this.writes.execute(write);
      this.refusing = false;
      return taken;
    } catch (error) {
      if (!(error instanceof BulkheadRejectedError)) throw error;
      this.receipts.inc({ provider, result: 'busy' });
      if (!this.refusing) this.logger.warn({ provider }, 'receipts answered 503: their share of the database pool is in use and its waiting list full; later ones are counted (busy), not logged, until one gets through');
      this.refusing = true;
      response.setHeader('Retry-After', String(RECEIPT_RETRY_AFTER_S));
      throw new ServiceUnavailableException('too many receipts being written; try again shortly');
    }
  }

  /**
   * A receipt blaming this installation's own setup (a bounce for its SPF, DKIM or DMARC, its sender,
   * its relay's address) is an operator's to fix, once it has ended a send of ours: anyone can mail
   * the return path a bounce. Such a setup bounces every mail, one request each: one alert a minute
   * per provider, counting the receipts since the last.
   */
  private alertOnConfiguration(provider: AnyProvider, outcomes: ReceiptOutcome[], taken: ReceiptsTaken): void {
    const blamed = new Set(outcomes.filter((o) => o.error === ProviderErrorCode.Misconfigured && taken.applied.has(o.receiptKey)).map((o) => o.receiptKey)).size;
    if (blamed === 0) return;
    this.report.configurationReceipts(provider.channel, provider.id, blamed);
    const heldBack = this.alerts.take(provider.id, this.clock().getTime(), blamed);
    if (heldBack === undefined) return;
    this.logger.error(
      { alert: 'provider_configuration', provider: provider.id, receipts: blamed + heldBack },
      `${provider.id} receipts say the recipient's server refused our configuration (sender, SPF, DKIM or DMARC, the relay's address): retried, no address blamed`,
    );
  }

  private tokenMatches(given: unknown): boolean {
    const expected = this.config.receiptsToken;
    if (expected === undefined || typeof given !== 'string') return false;
    const [a, b] = [Buffer.from(given), Buffer.from(expected)];
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /**
   * Counts what each status did: changed its delivery (by the status it gave), waits for its send's
   * record, or `unmatched` (a repeat, a send another attempt replaced, a push receipt naming no
   * token). A request that is not the vendor's counts as `refused`. No line names a number or a token.
   */
  private count(provider: string, statuses: number, outcomes: ReceiptOutcome[], taken: ReceiptsTaken): void {
    const results = new Map<string, number>();
    const add = (result: string, n = 1) => results.set(result, (results.get(result) ?? 0) + n);
    // Of several statuses for one send, the one that was applied or kept counts; the rest did nothing.
    const counted = new Set<string>();
    for (const { receiptKey } of outcomes) {
      const applied = taken.applied.get(receiptKey);
      const result = counted.has(receiptKey) ? 'unmatched' : (applied ?? (taken.waiting.has(receiptKey) ? 'waiting' : 'unmatched'));
      counted.add(receiptKey);
      add(result);
    }
    if (statuses > outcomes.length) add('unmatched', statuses - outcomes.length);
    for (const [result, n] of results) this.receipts.inc({ provider, result }, n);
    this.logger.debug({ provider, statuses, events: taken.events.length, ...Object.fromEntries(results) }, 'delivery receipts taken');
  }

  /**
   * Publishes the events now, unless `MAX_EVENTS_PUBLISHING` are already under way: while the broker
   * is away each produce retries for about 100 s, and reports coming at a thousand a second held a
   * hundred thousand of them in memory, all sent at once when it came back. Those past the bound are
   * left to the outbox relay, which has them already. A shutdown waits for those under way when it
   * begins (`beforeApplicationShutdown`); a receipt taken after that may find the producer closing,
   * and its events are then the relay's too.
   */
  private publishSoon(events: RecordedOutcome[]): void {
    if (events.length === 0) return;
    if (this.publishing.start(events.length, () => this.publish(events))) {
      this.leavingToRelay = false;
      return;
    }
    // Once per spell, not once per receipt.
    if (!this.leavingToRelay) this.logger.warn({ events: events.length }, "receipts' events left to the outbox relay: too many being published already (is the broker away?)");
    this.leavingToRelay = true;
  }
  private readonly publishing = new BoundedWork(MAX_EVENTS_PUBLISHING);
  private leavingToRelay = false;

  async beforeApplicationShutdown(): Promise<void> {
    await this.publishing.settled();
  }

  private async publish(recorded: RecordedOutcome[]): Promise<void> {
    try {
      await publishOutcomes(this.producer, recorded);
      await eventsPublished(recorded, this.logger);
    } catch (error) {
      this.logger.warn({ err: error, events: recorded.length }, "receipts' events not published now: the outbox relay publishes them later");
    }
  }
}

async function parse(read: () => Promise<ReceiptStatus[]>): Promise<ReceiptStatus[]> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ReceiptFormatError) throw new BadRequestException(error.message);
    throw error;
  }
}
