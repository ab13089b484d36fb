import type { ProviderError } from '@notify/channels';
import { ErrorCode } from '@notify/contracts';
import type { ChannelOutcome, DeviceDeactivation } from '@notify/persistence';
import type { SendAttempt } from '../senders/send-attempt';

export interface RetryTiming {
  /** First wait after a transient failure when the provider named none; doubles per attempt. */
  retryBackoffMs: number;
  retryMaxBackoffMs: number;
  /** Wait after a configuration failure: long, because only an operator can fix it. */
  configurationRetryMs: number;
}

export interface Decision {
  outcome: ChannelOutcome;
  deactivation?: DeviceDeactivation;
}

/**
 * What a send attempt means for its delivery. A provider taking the message is `sent`, not
 * `delivered`: only a client acknowledgement or a delivery receipt confirms delivery. Permanent
 * refusals are `dead` (never retried), everything else `failed` with the time the resend poller
 * may try again: the provider's Retry-After when it named one.
 */
export function decide(attempt: SendAttempt, now: Date, timing: RetryTiming): Decision {
  const deliveryId = attempt.job.deliveryId;
  switch (attempt.result.kind) {
    case 'accepted':
      return { outcome: { deliveryId, status: 'sent', error: null, nextAttemptAt: null } };
    case 'unreachable':
      return { outcome: { deliveryId, status: 'dead', error: ErrorCode.NoEndpoint, nextAttemptAt: null } };
    case 'refused':
      return refused(attempt, attempt.result.error, now, timing);
  }
}

function refused(attempt: SendAttempt, error: ProviderError, now: Date, timing: RetryTiming): Decision {
  const deliveryId = attempt.job.deliveryId;
  const later = (ms: number): Date => new Date(now.getTime() + ms);
  switch (error.kind) {
    case 'permanent': {
      const outcome: ChannelOutcome = { deliveryId, status: 'dead', error: error.code, nextAttemptAt: null };
      const device = attempt.device;
      if (!error.deactivateToken || device === undefined) return { outcome };
      const reason = `${error.provider}: ${error.vendorCode ?? error.code}`;
      return { outcome, deactivation: { userId: device.userId, deviceId: device.deviceId, token: device.token, reason } };
    }
    case 'transient':
      return { outcome: { deliveryId, status: 'failed', error: error.code, nextAttemptAt: later(error.retryAfterMs ?? backoffMs(attempt.job.attempt, timing)) } };
    case 'configuration':
      return { outcome: { deliveryId, status: 'failed', error: error.code, nextAttemptAt: later(timing.configurationRetryMs) } };
  }
}

/** 1st attempt: the base wait, then doubling, never above the maximum. */
export function backoffMs(attempt: number, timing: Pick<RetryTiming, 'retryBackoffMs' | 'retryMaxBackoffMs'>): number {
  return Math.min(timing.retryMaxBackoffMs, timing.retryBackoffMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
}
