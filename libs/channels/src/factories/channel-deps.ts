import { ProviderGuard, silentLog, systemClock, type Clock, type ProviderLimits, type ProviderLog } from '../ports';

/** What the worker hands every factory: its logger (masked fields only) and, in tests, a clock. */
export interface ChannelDeps {
  log?: ProviderLog;
  clock?: Clock;
}

export function guardFor(provider: string, limits: ProviderLimits, deps: ChannelDeps): ProviderGuard {
  return new ProviderGuard(provider, limits, deps.log ?? silentLog, deps.clock ?? systemClock);
}
