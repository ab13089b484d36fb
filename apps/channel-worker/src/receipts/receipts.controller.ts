import { timingSafeEqual } from 'node:crypto';
import { BadRequestException, Body, Controller, ForbiddenException, Headers, HttpCode, Inject, NotFoundException, Param, Post, Query } from '@nestjs/common';
import type { Producer } from 'kafkajs';
import type { Counter } from 'prom-client';
import { ReceiptFormatError, type ReceiptStatus } from '@notify/channels';
import type { ChannelWorkerConfig } from '@notify/config';
import { KAFKA_PRODUCER, publishOutcomes } from '@notify/kafka';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { ChannelDeliveryStore, eventsPublished, type RecordedOutcome } from '@notify/persistence';
import { WORKER_CLOCK, WORKER_SETTINGS } from '../delivery/channel-workers';
import { ChannelProviders } from '../providers/channel-providers';
import { receiptOutcomeOf } from './receipt-outcomes';

/** What Aliyun's report push waits for; the other vendors look at the HTTP status only. */
const TAKEN = { code: 0, msg: 'ok' };

/**
 * Vendors' delivery receipts (architecture D24): `POST /receipts/{provider}`. Twilio's are checked
 * against its signature; those of vendors that sign nothing are taken only at a URL with the
 * installation's token (`?token=`, `CHANNEL_WORKER_RECEIPTS_TOKEN`). Each receipt makes the send it
 * names `delivered`, `failed` or `dead`, in one transaction with its events, which go out on
 * notify.events after the answer (the outbox's relay publishes them if this process cannot).
 */
@Controller('receipts')
export class ReceiptsController {
  private readonly receipts: Counter;

  constructor(
    private readonly providers: ChannelProviders,
    private readonly store: ChannelDeliveryStore,
    @Inject(KAFKA_PRODUCER) private readonly producer: Producer,
    @Inject(WORKER_SETTINGS) private readonly config: ChannelWorkerConfig,
    @Inject(WORKER_CLOCK) private readonly clock: () => Date,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
    metrics: Metrics,
  ) {
    this.receipts = metrics.counter('notify_channel_receipts_total', 'Delivery receipt statuses by what they did: delivered, failed, dead, or unmatched', ['provider', 'result']);
  }

  @Post(':provider')
  @HttpCode(200)
  async receive(
    @Param('provider') id: string,
    @Query('token') token: unknown,
    @Headers() headers: Record<string, string | string[] | undefined>,
    @Body() body: unknown,
  ): Promise<typeof TAKEN> {
    const provider = this.providers.receiptSender(id);
    if (provider?.parseReceipt === undefined) throw new NotFoundException(`no delivery receipts are taken from ${id}`);
    const signed = provider.receiptSigned !== undefined ? provider.receiptSigned({ headers, body }) : this.tokenMatches(token);
    if (!signed) throw new ForbiddenException(provider.receiptSigned !== undefined ? 'the receipt is not signed by the vendor' : 'the receipt URL lacks the right token');
    const statuses = parse(() => provider.parseReceipt!(body));
    const receivedAt = this.clock();
    const outcomes = statuses.flatMap((status) => receiptOutcomeOf(provider.id, provider.channel, status, receivedAt) ?? []);
    const recorded = await this.store.receive(outcomes);
    this.count(provider.id, statuses.length, recorded);
    void this.publish(recorded);
    return TAKEN;
  }

  private tokenMatches(given: unknown): boolean {
    const expected = this.config.receiptsToken;
    if (expected === undefined || typeof given !== 'string') return false;
    const [a, b] = [Buffer.from(given), Buffer.from(expected)];
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** Counts what the statuses did; no line names a number or a token. */
  private count(provider: string, statuses: number, recorded: RecordedOutcome[]): void {
    const results = new Map<string, number>();
    for (const { status } of recorded) results.set(status, (results.get(status) ?? 0) + 1);
    // A status for a send another attempt replaced, one this installation never made, or a duplicate.
    const unmatched = statuses - recorded.length;
    if (unmatched > 0) results.set('unmatched', unmatched);
    for (const [result, n] of results) this.receipts.inc({ provider, result }, n);
    this.logger.debug({ provider, statuses, ...Object.fromEntries(results) }, 'delivery receipts taken');
  }

  private async publish(recorded: RecordedOutcome[]): Promise<void> {
    if (recorded.length === 0) return;
    try {
      await publishOutcomes(this.producer, recorded);
      await eventsPublished(recorded, this.logger);
    } catch (error) {
      this.logger.warn({ err: error, events: recorded.length }, "receipts' events not published now: the outbox relay publishes them later");
    }
  }
}

function parse(read: () => ReceiptStatus[]): ReceiptStatus[] {
  try {
    return read();
  } catch (error) {
    if (error instanceof ReceiptFormatError) throw new BadRequestException(error.message);
    throw error;
  }
}
