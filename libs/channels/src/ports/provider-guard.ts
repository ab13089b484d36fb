import { AsyncLocalStorage } from 'node:async_hooks';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  ConsecutiveBreaker,
  TaskCancelledError,
  TimeoutStrategy,
  bulkhead,
  circuitBreaker,
  handleWhen,
  timeout,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
  type TimeoutPolicy,
} from 'cockatiel';
import { systemClock, type Clock } from './clock';
import { HeldBackAlerts } from './held-back-alerts';
import { scrubPersonalData } from './mask';
import { ProviderError, ProviderErrorCode, isProviderError } from './provider-error';
import { CALL_BUDGET_MS, type ProviderLimits } from './provider-limits';
import { silentLog, type ProviderLog } from './provider-log';
import { RateLimiter } from './rate-limiter';

export type CircuitStatus = 'closed' | 'open' | 'half-open' | 'isolated';

/** Errors that say the vendor is struggling; only these count towards opening the circuit. */
const VENDOR_TROUBLE = new Set<ProviderErrorCode>([
  ProviderErrorCode.Timeout,
  ProviderErrorCode.Network,
  ProviderErrorCode.Unavailable,
  ProviderErrorCode.RateLimited,
  ProviderErrorCode.Unexpected,
]);

/** How often one kind of configuration error is logged as an alert. */
const ALERT_EVERY_MS = 10_000;

/**
 * When the sends being made were claimed (ms since 1970), for the calls made within
 * `sendsClaimedAt.run(time, …)`: the guard counts a call's `CALL_BUDGET_MS` from then, not from when
 * the call reached it. Before that the calls wait in the channel worker's own limit, and a part's
 * digests refused for their content are sent again message by message, all under the same lease.
 */
export const sendsClaimedAt = new AsyncLocalStorage<number>();

/**
 * When the message of the sends being made expires (ms since 1970), for the calls made within
 * `sendExpiresAt.run(time, …)`: a call whose turn comes after it is not made (`expired`). The
 * contract never delivers after `expiresAt`, and a call can wait minutes behind others for its slot.
 */
export const sendExpiresAt = new AsyncLocalStorage<number | undefined>();

/** The shortest wait for a slot the budget allows, whatever the limits (`maxSlotWaitMs`). */
const MIN_SLOT_WAIT_MS = 60_000;

/**
 * Wraps every vendor call of one provider: circuit breaker, concurrency limit with a bounded queue,
 * rate limit, timeout (its signal reaches the HTTP request). Whatever goes wrong comes out as a
 * `ProviderError`; configuration errors are logged as alerts here, once per call.
 */
export class ProviderGuard {
  private readonly breaker: CircuitBreakerPolicy;
  private readonly slots: BulkheadPolicy;
  private readonly deadline: TimeoutPolicy;
  private readonly rate: RateLimiter;
  /** When the circuit first opened since it was last closed: the vendor's outage began then. */
  private outageSince: number | undefined;
  /** Per kind of configuration error, when it was last logged and how many since were not. */
  private readonly alerts = new HeldBackAlerts(ALERT_EVERY_MS);

  constructor(
    readonly provider: string,
    private readonly limits: ProviderLimits,
    private readonly log: ProviderLog = silentLog,
    private readonly clock: Clock = systemClock,
    /** Once aborted, calls not yet begun are refused instead of made (`ChannelDeps.stopped`). */
    private readonly stopped?: AbortSignal,
  ) {
    this.breaker = circuitBreaker(
      handleWhen((error) => isProviderError(error) && VENDOR_TROUBLE.has(error.code)),
      { halfOpenAfter: limits.breakerHalfOpenAfterMs, breaker: new ConsecutiveBreaker(limits.breakerFailures) },
    );
    this.slots = bulkhead(limits.concurrency, limits.queue);
    // Aborting after every successful call would cost a DOMException each; the signal only needs to fire on timeout.
    this.deadline = timeout(limits.timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });
    this.rate = new RateLimiter(limits.ratePerSecond, limits.burst, limits.maxRateWaitMs, clock);
    this.breaker.onBreak(() => {
      this.outageSince ??= clock.now();
      this.log.warn({ provider, event: 'circuit_open' }, `${provider}: circuit opened after repeated vendor failures`);
    });
    this.breaker.onReset(() => {
      this.outageSince = undefined;
      this.log.info({ provider, event: 'circuit_closed' }, `${provider}: circuit closed, vendor answers again`);
    });
  }

  get circuit(): CircuitStatus {
    switch (this.breaker.state) {
      case CircuitState.Closed:
        return 'closed';
      case CircuitState.Open:
        return 'open';
      case CircuitState.HalfOpen:
        return 'half-open';
      case CircuitState.Isolated:
        return 'isolated';
    }
  }

  /** Runs one vendor call under every limit; `call` must pass `signal` to its request. */
  async run<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const askedAt = sendsClaimedAt.getStore() ?? this.clock.now();
    // Read here, in the caller's context: a call queued for a slot runs in the context of the call
    // that freed it (cockatiel's bulkhead starts it from that call's promise chain).
    const expiresAt = sendExpiresAt.getStore();
    try {
      return await this.breaker.execute(() =>
        this.slots.execute(async () => {
          this.refuseOnceStopped();
          this.refuseAfterLongWait(askedAt);
          this.refuseExpired(expiresAt);
          await this.waitForRateSlot();
          this.refuseOnceStopped();
          this.refuseExpired(expiresAt);
          try {
            return await this.deadline.execute(({ signal }) => this.normalised(call, signal));
          } catch (error) {
            // Inside the breaker, so that it judges a timeout as the vendor's trouble: as cockatiel's
            // own error it passed the breaker uncounted, and a trial call that hung closed the circuit.
            throw this.toProviderError(error);
          }
        }),
      );
    } catch (error) {
      const failure = this.toProviderError(error);
      if (failure.kind === 'configuration') this.alert(failure);
      throw failure;
    }
  }

  /**
   * One alert per kind of configuration error every `ALERT_EVERY_MS`, with how many were held back:
   * a revoked key refuses every call, one line per push at a thousand pushes a second.
   */
  private alert(failure: ProviderError): void {
    const heldBack = this.alerts.take(`${failure.code}:${failure.vendorCode ?? ''}`, this.clock.now());
    if (heldBack === undefined) return;
    // A vendor's text can quote an account (the service account's client_email) or what it was sent.
    const message = scrubPersonalData(failure.message);
    this.log.error({ provider: this.provider, alert: 'provider_configuration', heldBack, error: { ...failure.toJSON(), message } }, message);
  }

  /**
   * A call whose turn comes once the worker is stopping is not made: the limits had it wait behind
   * others, and made then it could end after the supervisor's grace period, between the vendor's
   * answer and its record, and be sent again. Refused by this platform's own limit, it costs no
   * attempt and is due again at once.
   */
  private refuseOnceStopped(): void {
    if (!this.stopped?.aborted) return;
    throw new ProviderError({ provider: this.provider, code: ProviderErrorCode.Overloaded, message: 'not sent: the worker is stopping; due again now', retryAfterMs: 0 });
  }

  /** A call for a message that has expired (`sendExpiresAt`) is not made: it is `expired`, and costs no attempt. */
  private refuseExpired(expiresAt: number | undefined): void {
    if (expiresAt === undefined || this.clock.now() < expiresAt) return;
    throw new ProviderError({ provider: this.provider, code: ProviderErrorCode.Expired, message: 'not sent: the message expired while the call waited for its turn' });
  }

  /**
   * A call whose slot came too late to end within `CALL_BUDGET_MS` of its claim is not made (calls
   * of several partitions queue for the same few connections: 300 mails through 5 SMTP connections at
   * 10 s each take 10 minutes). Refused by this platform's own limit, it costs no attempt.
   */
  private refuseAfterLongWait(askedAt: number): void {
    const waited = this.clock.now() - askedAt;
    if (waited <= this.maxSlotWaitMs) return;
    throw new ProviderError({
      provider: this.provider,
      code: ProviderErrorCode.Overloaded,
      message: `waited ${waited} ms for one of ${this.limits.concurrency} slots: made now, it could end after its claim's lease`,
    });
  }

  /**
   * How long a call may wait for its slot and still end within `CALL_BUDGET_MS`; at least a minute,
   * so that limits whose timeout and rate wait take most of the budget (each may be 5 minutes) leave
   * the calls some time to reach the vendor rather than refusing every one.
   */
  private get maxSlotWaitMs(): number {
    return Math.max(MIN_SLOT_WAIT_MS, CALL_BUDGET_MS - this.limits.timeoutMs - this.limits.maxRateWaitMs);
  }

  private async waitForRateSlot(): Promise<void> {
    const waitMs = this.rate.reserve();
    if (waitMs === null) {
      throw new ProviderError({
        provider: this.provider,
        code: ProviderErrorCode.Throttled,
        message: `rate limit of ${this.limits.ratePerSecond}/s would hold this call longer than ${this.limits.maxRateWaitMs} ms`,
        retryAfterMs: this.rate.refusalRetryMs(),
      });
    }
    if (waitMs > 0) await untilAborted(this.clock.sleep(waitMs), this.stopped);
  }

  /** Converts anything but a ProviderError inside the call, so the breaker judges it correctly. */
  private async normalised<T>(call: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    try {
      return await call(signal);
    } catch (error) {
      throw this.toProviderError(error);
    }
  }

  private toProviderError(error: unknown): ProviderError {
    if (isProviderError(error)) return error;
    const provider = this.provider;
    if (error instanceof TaskCancelledError) {
      return new ProviderError({ provider, code: ProviderErrorCode.Timeout, message: `no answer within ${this.limits.timeoutMs} ms`, cause: error });
    }
    if (error instanceof BulkheadRejectedError) {
      return new ProviderError({
        provider,
        code: ProviderErrorCode.Overloaded,
        message: `${this.limits.concurrency} calls in flight and ${this.limits.queue} queued`,
        cause: error,
      });
    }
    if (error instanceof BrokenCircuitError) {
      return new ProviderError({
        provider,
        code: ProviderErrorCode.CircuitOpen,
        message: 'circuit open after repeated vendor failures',
        retryAfterMs: this.limits.breakerHalfOpenAfterMs,
        outageMs: this.outageSince === undefined ? 0 : Math.max(0, this.clock.now() - this.outageSince),
        cause: error,
      });
    }
    const reason = error instanceof Error ? error.message : String(error);
    return new ProviderError({ provider, code: ProviderErrorCode.Unexpected, message: reason, cause: error });
  }
}

/** Resolves when `sleep` does, or as soon as `signal` aborts: a stop does not wait out a rate slot. */
function untilAborted(sleep: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return sleep;
  if (signal.aborted) return Promise.resolve();
  let onAbort!: () => void;
  const aborted = new Promise<void>((resolve) => (onAbort = resolve));
  signal.addEventListener('abort', onAbort, { once: true });
  return Promise.race([sleep, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}
