import { Inject, Injectable } from '@nestjs/common';
import type { Counter } from 'prom-client';
import type { WorkerChannel } from '@notify/config';
import { APP_LOGGER, Metrics, type AppLogger } from '@notify/observability';
import { scrubPersonalData } from '@notify/channels';
import type { SendAttempt } from '../senders/send-attempt';
import type { Decision } from './outcome-policy';

interface RefusalGroup {
  provider: string;
  kind: string;
  code: string;
  vendorCode: string | undefined;
  /** The vendor's HTTP status or SMTP reply. */
  vendorStatus: number | undefined;
  /**
   * What the deliveries became: `failed` (retried after `waitMs`, at most until their message's
   * expiry; when null, as the route's backoff says) or `dead`. A wait, not a time of this host's
   * clock: the database's clock decides when it is over (`ChannelOutcome.waitMs`).
   */
  outcome: string;
  waitMs: number | null;
  example: string;
  deliveries: number;
}

/**
 * Logs and metrics of what each batch came to: one line per kind of refusal rather than one per
 * delivery, so a provider outage does not flood the log. Lines carry delivery ids and masked
 * endpoints only, never a number, an address or a token.
 */
@Injectable()
export class DeliveryReport {
  private readonly outcomes: Counter;
  private readonly configurationErrors: Counter;
  private readonly deactivations: Counter;

  constructor(
    metrics: Metrics,
    @Inject(APP_LOGGER) private readonly logger: AppLogger,
  ) {
    this.outcomes = metrics.counter('notify_channel_outcomes_total', 'Delivery outcomes of the channel workers', ['channel', 'provider', 'status']);
    this.configurationErrors = metrics.counter(
      'notify_channel_configuration_errors_total',
      'Deliveries refused because a provider is misconfigured (bad credentials, wrong topic or sender)',
      ['channel', 'provider', 'code'],
    );
    this.deactivations = metrics.counter('notify_push_devices_deactivated_total', 'Device tokens deactivated because their provider called them dead', ['provider']);
  }

  /** Sends a vendor's receipts (a bounce) say the recipient's server refused for this installation's setup. */
  configurationReceipts(channel: string, provider: string, count: number): void {
    if (count > 0) this.configurationErrors.inc({ channel, provider, code: 'misconfigured' }, count);
  }

  expired(channel: WorkerChannel, count: number): void {
    if (count === 0) return;
    this.outcomes.inc({ channel, provider: 'none', status: 'expired' }, count);
    this.logger.info({ channel, deliveries: count }, 'deliveries expired before they could be sent');
  }

  sent(channel: WorkerChannel, attempts: SendAttempt[], decisions: Decision[]): void {
    const refusals = new Map<string, RefusalGroup>();
    let unreachable = 0;
    attempts.forEach(({ job, result }, index) => {
      const decision = decisions[index]!;
      const provider = result.kind === 'unreachable' ? 'none' : result.provider;
      this.outcomes.inc({ channel, provider, status: decision.outcome.status });
      if (result.kind === 'accepted') {
        // The provider's id is what its receipts and support cases name; there is no column for it yet.
        this.logger.debug({ channel, deliveryId: job.deliveryId, provider, providerMessageId: result.receipt.providerMessageId }, 'provider accepted the message');
      } else if (result.kind === 'unreachable') {
        unreachable += 1;
      } else {
        const { error } = result;
        const key = [provider, error.code, error.vendorCode, decision.outcome.status].join('\u0000');
        const group = refusals.get(key) ?? {
          provider,
          kind: error.kind,
          code: error.code,
          vendorCode: error.vendorCode,
          vendorStatus: error.status,
          outcome: decision.outcome.status,
          waitMs: decision.outcome.waitMs,
          // a vendor's or a library's message may quote the address, number or token it was given
          example: scrubPersonalData(error.message),
          deliveries: 0,
        };
        group.deliveries += 1;
        refusals.set(key, group);
      }
    });
    if (unreachable > 0) this.logger.info({ channel, deliveries: unreachable }, 'deliveries whose device is no longer active');
    for (const group of refusals.values()) this.refused(channel, group);
    this.deactivated(channel, attempts, decisions);
  }

  private refused(channel: WorkerChannel, group: RefusalGroup): void {
    if (group.kind === 'configuration') {
      this.configurationErrors.inc({ channel, provider: group.provider, code: group.code }, group.deliveries);
      this.logger.error(
        { alert: 'provider_configuration', channel, ...group },
        `${group.provider} refused our configuration (${group.code}); deliveries wait for an operator instead of retrying soon`,
      );
      return;
    }
    this.logger.warn({ channel, ...group }, `${group.provider} refused deliveries (${group.code})`);
  }

  /** Counts devices, not deliveries: each message of a summary sent to a dead token decides to deactivate the same device. */
  private deactivated(channel: WorkerChannel, attempts: SendAttempt[], decisions: Decision[]): void {
    const byProvider = new Map<string, Set<string>>();
    attempts.forEach(({ result }, index) => {
      const deactivation = decisions[index]?.deactivation;
      if (deactivation === undefined || result.kind !== 'refused') return;
      const devices = byProvider.get(result.provider) ?? new Set<string>();
      devices.add(`${deactivation.userId}\u0000${deactivation.deviceId}`);
      byProvider.set(result.provider, devices);
    });
    for (const [provider, { size: devices }] of byProvider) {
      this.deactivations.inc({ provider }, devices);
      this.logger.info({ channel, provider, devices }, 'deactivated device tokens the provider called dead');
    }
  }
}
