import { ProviderGuard, silentLog, systemClock, type Clock, type ProviderLimits, type ProviderLog } from '../ports';

/** What the worker hands every factory: its logger (masked fields only), in tests a clock, and its stop. */
export interface ChannelDeps {
  log?: ProviderLog;
  clock?: Clock;
  /**
   * Aborted when the worker stops: from then on every vendor call not yet begun (waiting for a
   * connection or a rate slot) is refused as `overloaded`, due again at once, and only the calls
   * already made are waited for.
   */
  stopped?: AbortSignal;
}

export function guardFor(provider: string, limits: ProviderLimits, deps: ChannelDeps): ProviderGuard {
  return new ProviderGuard(provider, limits, deps.log ?? silentLog, deps.clock ?? systemClock, deps.stopped);
}
