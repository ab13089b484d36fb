import type { ProviderError } from '@notify/channels';
import { ErrorCode } from '@notify/contracts';
import type { ChannelOutcome, DeviceDeactivation } from '@notify/persistence';
import type { SendAttempt } from '../senders/send-attempt';

export interface RetryTiming {
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
 * refusals are `dead` (never retried), everything else `failed`. A transient failure carries the
 * provider's Retry-After when it named one; otherwise no time, so that the resend poller gives it
 * the route's retry policy (exponential backoff with full jitter), or ends it as `dead` when it is
 * out of attempts, as for every other channel.
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
      return { outcome: { deliveryId, status: 'failed', error: error.code, nextAttemptAt: error.retryAfterMs === undefined ? null : later(error.retryAfterMs) } };
    case 'configuration':
      return { outcome: { deliveryId, status: 'failed', error: error.code, nextAttemptAt: later(timing.configurationRetryMs) } };
  }
}
