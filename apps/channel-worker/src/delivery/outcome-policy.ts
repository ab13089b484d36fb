import { ProviderErrorCode, type ProviderError } from '@notify/channels';
import { ErrorCode, type DeliveryJob } from '@notify/contracts';
import type { ChannelOutcome, DeviceDeactivation } from '@notify/persistence';
import type { SendAttempt } from '../senders/send-attempt';

export interface RetryTiming {
  /** Wait after a configuration failure: long, because only an operator can fix it. */
  configurationRetryMs: number;
  /** How long a provider has accepted no send (`ProviderAcceptances`); not at all when not given. */
  silentForMs?: (provider: string) => number;
}

/**
 * The longest wait a vendor's Retry-After may impose. A vendor naming a time years away (an epoch in
 * milliseconds where seconds were meant) would otherwise give a date PostgreSQL refuses, and fail
 * the record of the whole batch.
 */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * Refusals by this platform's own limits around a provider (its rate, its calls in flight): the call
 * never reached the vendor, so it costs the delivery no attempt. Counted as attempts, a burst above
 * the configured rate made whole broadcasts `dead` without a single message sent.
 */
const NOT_ATTEMPTED = new Set<string>([ProviderErrorCode.Throttled, ProviderErrorCode.Overloaded]);

/** The longest an open circuit makes a delivery wait before it is tried again. */
export const MAX_CIRCUIT_WAIT_MS = 3_600_000;

export interface Decision {
  outcome: ChannelOutcome;
  deactivation?: DeviceDeactivation;
}

/**
 * What a send attempt means for its delivery. A provider taking the message is `sent`, not
 * `delivered`: only a client acknowledgement or a delivery receipt confirms delivery. Permanent
 * refusals are `dead` (never retried), everything else `failed`. A transient failure carries the
 * provider's Retry-After when it named one (an open circuit, its own growing wait: `circuitOpen`); otherwise no wait, so that the resend poller gives it
 * the route's retry policy (exponential backoff with full jitter), or ends it as `dead` when it is
 * out of attempts, as for every other channel. A wait is at most MAX_RETRY_AFTER_MS, and a length of
 * time, not a time: the store counts it from the database's clock and ends it at the message's
 * expiry (`ChannelOutcome.waitMs`). A time on this host's clock was compared with the database's by
 * the resend poller: a host a minute behind made a 429's `Retry-After: 60` due at once, and the
 * resends spent every attempt within seconds.
 */
export function decide(attempt: SendAttempt, now: Date, timing: RetryTiming, random: () => number = Math.random): Decision {
  const deliveryId = attempt.job.deliveryId;
  switch (attempt.result.kind) {
    case 'accepted':
      return { outcome: { deliveryId, status: 'sent', error: null, waitMs: null } };
    case 'unreachable':
      return { outcome: { deliveryId, status: 'dead', error: ErrorCode.NoEndpoint, waitMs: null } };
    case 'refused':
      return refused(attempt, attempt.result.error, now, timing, random);
  }
}

/**
 * The decision on each send, given to every message it carried: the members of a summary or digest
 * share its wait (one draw per send), so they come back together instead of one by one.
 */
export function decideSends(
  sent: SendAttempt[],
  members: ReadonlyMap<string, DeliveryJob[]>,
  now: Date,
  timing: RetryTiming,
  random: () => number = Math.random,
): { attempts: SendAttempt[]; decisions: Decision[] } {
  const attempts: SendAttempt[] = [];
  const decisions: Decision[] = [];
  for (const send of sent) {
    const draw = random();
    for (const job of members.get(send.job.deliveryId) ?? [send.job]) {
      const attempt = { ...send, job };
      attempts.push(attempt);
      decisions.push(decide(attempt, now, timing, () => draw));
    }
  }
  return { attempts, decisions };
}

function refused(attempt: SendAttempt, error: ProviderError, now: Date, timing: RetryTiming, random: () => number): Decision {
  const deliveryId = attempt.job.deliveryId;
  // Its message expired while the call waited for its turn: no vendor was asked, and none will be.
  if (error.code === ProviderErrorCode.Expired) return { outcome: { deliveryId, status: 'expired', error: null, waitMs: null, attempted: false } };
  switch (error.kind) {
    case 'permanent': {
      const outcome: ChannelOutcome = { deliveryId, status: 'dead', error: error.code, waitMs: null };
      const device = attempt.device;
      if (!error.deactivateToken || device === undefined) return { outcome };
      const reason = `${error.provider}: ${error.vendorCode ?? error.code}`;
      return { outcome, deactivation: { userId: device.userId, deviceId: device.deviceId, token: device.token, reason, registration: device.registration } };
    }
    case 'transient': {
      if (error.code === ProviderErrorCode.CircuitOpen) return circuitOpen(attempt, error, random);
      const waitMs = error.retryAfterMs === undefined ? null : bounded(error.retryAfterMs);
      return { outcome: { deliveryId, status: 'failed', error: error.code, waitMs, ...(NOT_ATTEMPTED.has(error.code) ? { attempted: false } : {}) } };
    }
    case 'configuration':
      return { outcome: { deliveryId, status: 'failed', error: error.code, waitMs: bounded(timing.configurationRetryMs), ...configurationAttempt(attempt, error, now, timing) } };
  }
}

/** A wait of `ms`, none when negative, at most MAX_RETRY_AFTER_MS. */
function bounded(ms: number): number {
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/**
 * Refusals of this installation's credentials for one kind of device, while the provider takes the
 * others: FCM's THIRD_PARTY_AUTH_ERROR (the APNs key or certificate, or the web push credentials,
 * set up in Firebase) refuses every iPhone or browser and not one Android phone, so the provider is
 * never silent for long and `silentForMs` never tells it from a refusal of this recipient.
 */
const DEVICE_KIND_CREDENTIALS = new Set(['THIRD_PARTY_AUTH_ERROR']);

/**
 * Whether a configuration refusal costs its delivery the attempt. Not while the provider has taken
 * nothing for a whole configuration retry wait: the account itself is refused (a revoked key, a
 * wrong sender), which only an operator fixes, and each hourly retry counted made every message of a
 * four-hour outage `dead`. Once that has lasted a day the attempts count again, so that a delivery
 * without an expiry still ends. A refusal while the provider accepts other sends is about this
 * recipient or message and counts, so the delivery ends and its fallback goes; so do the token
 * refusals `TokenRefusalWatch` takes for a configuration problem while the provider accepts others
 * (stale tokens: counted, the retry is seen as one and the tokens are deactivated). But not the
 * refusals of the credentials for one kind of device (`DEVICE_KIND_CREDENTIALS`): counted, every
 * iPhone's delivery through FCM ended `dead` while the alert waited for an operator.
 */
function configurationAttempt(attempt: SendAttempt, error: ProviderError, now: Date, timing: RetryTiming): { attempted?: false } {
  const silent = timing.silentForMs?.(error.provider) ?? 0;
  if (silent >= timing.configurationRetryMs) return silent < MAX_RETRY_AFTER_MS ? { attempted: false } : {};
  // Never the recipient's fault whatever the provider takes meanwhile: held up, not used up, for a
  // day from its message's creation, as a silent account is for a day of silence.
  if (error.vendorCode !== undefined && DEVICE_KIND_CREDENTIALS.has(error.vendorCode)) {
    return now.getTime() - Date.parse(attempt.job.message.createdAt) < MAX_RETRY_AFTER_MS ? { attempted: false } : {};
  }
  return {};
}

/**
 * An open circuit refused the call: the vendor failed again and again just before, and is not tried
 * until the circuit half-opens. The delivery keeps its attempt (the vendor's own failures count: the
 * one trial call per half-open period) and waits longer the longer the vendor has been failing: at
 * least the circuit's own time, and from half to all of half the outage so far, up to an hour. So a
 * delivery is tried a few times in the first minutes of an outage and then about hourly, instead of
 * every held delivery coming back each half-open period (or going `dead` within minutes, counted).
 * Once the outage has lasted a day the attempts count again, so a delivery without an expiry ends.
 */
function circuitOpen(attempt: SendAttempt, error: ProviderError, random: () => number): Decision {
  const deliveryId = attempt.job.deliveryId;
  const outage = error.outageMs ?? 0;
  if (outage >= MAX_RETRY_AFTER_MS) return { outcome: { deliveryId, status: 'failed', error: error.code, waitMs: null } };
  const grown = Math.min(MAX_CIRCUIT_WAIT_MS, outage / 2) * (0.5 + random() / 2);
  return { outcome: { deliveryId, status: 'failed', error: error.code, waitMs: bounded(Math.max(error.retryAfterMs ?? 0, grown)), attempted: false } };
}
