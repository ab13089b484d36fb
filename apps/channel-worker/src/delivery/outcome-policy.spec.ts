import { ProviderError, ProviderErrorCode } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import type { SendAttempt } from '../senders/send-attempt';
import { decide, decideSends, type RetryTiming } from './outcome-policy';

const timing: RetryTiming = { configurationRetryMs: 3_600_000 };
const now = new Date('2026-03-01T10:00:00.000Z');
const job = { deliveryId: 'd-1', attempt: 1 } as DeliveryJob;
const device = { userId: 'u-1', deviceId: 'phone', provider: 'apns' as const, token: 'ab'.repeat(32), registration: '1764000000000000' };

function refusedBy(error: ProviderError, attempt = 1): SendAttempt {
  return { job: { ...job, attempt }, device, result: { kind: 'refused', provider: error.provider, error } };
}

describe('decide', () => {
  it('records an accepted message as sent, not delivered: acceptance is not a delivery receipt', () => {
    const decision = decide({ job, result: { kind: 'accepted', provider: 'apns', receipt: { providerMessageId: 'x', acceptedAt: now } } }, now, timing);
    expect(decision).toEqual({ outcome: { deliveryId: 'd-1', status: 'sent', error: null, waitMs: null } });
  });

  it('gives up on a device that is gone since planning, as no_endpoint so the next fallback tier goes', () => {
    expect(decide({ job, result: { kind: 'unreachable' } }, now, timing).outcome).toMatchObject({ status: 'dead', error: 'no_endpoint' });
  });

  it('marks a dead token dead and deactivates exactly that token', () => {
    const error = new ProviderError({ provider: 'apns', code: ProviderErrorCode.EndpointGone, vendorCode: 'Unregistered', deactivateToken: true, message: 'gone' });
    expect(decide(refusedBy(error), now, timing)).toEqual({
      outcome: { deliveryId: 'd-1', status: 'dead', error: 'endpoint_gone', waitMs: null },
      deactivation: { userId: 'u-1', deviceId: 'phone', token: device.token, reason: 'apns: Unregistered', registration: device.registration },
    });
  });

  it('does not deactivate anything for a permanent refusal of the message itself', () => {
    const error = new ProviderError({ provider: 'apns', code: ProviderErrorCode.Rejected, vendorCode: 'PayloadTooLarge', message: 'too big' });
    const decision = decide(refusedBy(error), now, timing);
    expect(decision.outcome.status).toBe('dead');
    expect(decision.deactivation).toBeUndefined();
  });

  it('ends a send whose message expired while it waited for its turn as expired: never retried, no attempt counted, no device touched', () => {
    const error = new ProviderError({ provider: 'apns', code: ProviderErrorCode.Expired, message: 'expired while waiting' });
    expect(decide(refusedBy(error, 2), now, timing)).toEqual({ outcome: { deliveryId: 'd-1', status: 'expired', error: null, waitMs: null, attempted: false } });
  });

  it('retries a transient failure no earlier than the Retry-After the vendor named', () => {
    const error = new ProviderError({ provider: 'apns', code: ProviderErrorCode.RateLimited, retryAfterMs: 120_000, message: 'slow down' });
    expect(decide(refusedBy(error, 3), now, timing).outcome).toEqual({
      deliveryId: 'd-1',
      status: 'failed',
      error: 'rate_limited',
      waitMs: 120_000,
    });
  });

  it('gives the wait as a length of time, whatever this host’s clock says: the database’s clock counts it', () => {
    const error = new ProviderError({ provider: 'fcm', code: ProviderErrorCode.RateLimited, retryAfterMs: 60_000, message: '429' });
    const expiring = { ...refusedBy(error), job: { ...job, expiresAt: '2026-03-01T10:10:00.000Z' } };
    const behind = new Date(now.getTime() - 120_000);
    expect(decide(expiring, behind, timing).outcome).toEqual(decide(expiring, now, timing).outcome);
    expect(decide(expiring, behind, timing).outcome.waitMs).toBe(60_000);
  });

  it('bounds a Retry-After to a day, so an absurd one cannot make a date the database refuses', () => {
    const error = new ProviderError({ provider: 'twilio', code: ProviderErrorCode.RateLimited, retryAfterMs: 1_764_000_000_000_000, message: 'slow down' });
    expect(decide(refusedBy(error), now, timing).outcome.waitMs).toBe(24 * 3_600_000);
  });

  it.each([
    [ProviderErrorCode.Throttled, 5_000],
    [ProviderErrorCode.Overloaded, undefined],
  ])('costs no attempt when the platform’s own limits refused the call (%s): it never reached the vendor', (code, retryAfterMs) => {
    const error = new ProviderError({ provider: 'twilio', code, retryAfterMs, message: 'held back here' });
    expect(decide(refusedBy(error, 5), now, timing).outcome).toMatchObject({ status: 'failed', error: code, attempted: false });
  });

  describe('an open circuit', () => {
    const outage = (outageMs: number) =>
      refusedBy(new ProviderError({ provider: 'apns', code: ProviderErrorCode.CircuitOpen, retryAfterMs: 30_000, outageMs, message: 'circuit open' }), 5);
    const waitOf = (decision: ReturnType<typeof decide>) => decision.outcome.waitMs;

    it('costs no attempt, and holds a delivery until the circuit half-opens early in an outage', () => {
      expect(decide(outage(10_000), now, timing, () => 1).outcome).toEqual({
        deliveryId: 'd-1',
        status: 'failed',
        error: 'circuit_open',
        waitMs: 30_000,
        attempted: false,
      });
    });

    it('waits from half to all of half the outage so far, up to an hour', () => {
      expect([waitOf(decide(outage(600_000), now, timing, () => 0)), waitOf(decide(outage(600_000), now, timing, () => 1))]).toEqual([150_000, 300_000]);
      expect(waitOf(decide(outage(5 * 3_600_000), now, timing, () => 1))).toBe(3_600_000);
    });

    it('gives every message of one summary the same wait, and each send a wait of its own', () => {
      const summary = outage(600_000);
      const members = ['d-1', 'd-2', 'd-3'].map((deliveryId) => ({ ...job, deliveryId }));
      const single = { ...outage(600_000), job: { ...job, deliveryId: 'd-4' } };
      const draws = [0, 0.5, 1, 0.25];

      const { attempts, decisions } = decideSends([summary, single], new Map([['d-1', members]]), now, timing, () => draws.shift()!);

      expect(attempts.map((a) => a.job.deliveryId)).toEqual(['d-1', 'd-2', 'd-3', 'd-4']);
      expect(decisions.map(waitOf)).toEqual([150_000, 150_000, 150_000, 225_000]);
    });

    it('counts the attempt again once the outage has lasted a day, with the route’s wait, so a delivery without an expiry still ends', () => {
      expect(decide(outage(24 * 3_600_000), now, timing, () => 1).outcome).toEqual({ deliveryId: 'd-1', status: 'failed', error: 'circuit_open', waitMs: null });
    });
  });

  it('counts the attempt when the vendor itself refused', () => {
    const error = new ProviderError({ provider: 'twilio', code: ProviderErrorCode.RateLimited, retryAfterMs: 5_000, message: '429' });
    expect(decide(refusedBy(error, 5), now, timing).outcome).not.toHaveProperty('attempted');
  });

  it('leaves the wait to the route’s retry policy when the vendor named none', () => {
    const error = new ProviderError({ provider: 'twilio', code: ProviderErrorCode.Unavailable, message: '503' });
    expect(decide(refusedBy(error, 3), now, timing).outcome).toEqual({ deliveryId: 'd-1', status: 'failed', error: 'unavailable', waitMs: null });
  });

  it('waits long after a configuration failure instead of retrying it fast', () => {
    const error = new ProviderError({ provider: 'apns', code: ProviderErrorCode.BadCredentials, vendorCode: 'InvalidProviderToken', message: 'bad key' });
    expect(decide(refusedBy(error), now, timing).outcome).toMatchObject({
      status: 'failed',
      error: 'bad_credentials',
      waitMs: 3_600_000,
    });
  });

  it('keeps the attempt of a delivery a refused account holds up: the provider has taken nothing for an hour, until that lasts a day', () => {
    const error = new ProviderError({ provider: 'apns', code: ProviderErrorCode.BadCredentials, vendorCode: 'InvalidProviderToken', message: 'bad key' });
    const silentFor = (ms: number) => ({ ...timing, silentForMs: (provider: string) => (provider === 'apns' ? ms : 0) });
    expect(decide(refusedBy(error, 5), now, silentFor(3_600_000)).outcome).toMatchObject({ status: 'failed', attempted: false });
    expect(decide(refusedBy(error, 5), now, silentFor(23 * 3_600_000)).outcome).toMatchObject({ status: 'failed', attempted: false });
    expect(decide(refusedBy(error, 5), now, silentFor(24 * 3_600_000)).outcome).not.toHaveProperty('attempted');
  });

  it('counts a configuration refusal while the provider takes other sends: it is about this recipient, and its fallback must go', () => {
    // Twilio 21408: SMS not enabled for the number's region, while other numbers get theirs.
    const error = new ProviderError({ provider: 'twilio', code: ProviderErrorCode.Misconfigured, vendorCode: '21408', message: 'region' });
    const silentFor = (ms: number) => ({ ...timing, silentForMs: () => ms });
    expect(decide(refusedBy(error, 5), now, silentFor(0)).outcome).not.toHaveProperty('attempted');
    expect(decide(refusedBy(error, 5), now, silentFor(3_599_999)).outcome).not.toHaveProperty('attempted');
  });

  describe('FCM refusing the APNs or web push credentials set up in Firebase (THIRD_PARTY_AUTH_ERROR)', () => {
    const error = new ProviderError({ provider: 'fcm', code: ProviderErrorCode.BadCredentials, vendorCode: 'THIRD_PARTY_AUTH_ERROR', status: 401, message: 'auth error from APNS' });
    // FCM takes every Android push meanwhile: it is never silent.
    const busy = { ...timing, silentForMs: () => 0 };
    const createdAgo = (ms: number): SendAttempt => {
      const refused = refusedBy(error, 5);
      return { ...refused, job: { ...refused.job, message: { createdAt: new Date(now.getTime() - ms).toISOString() } as DeliveryJob['message'] } };
    };

    it('keeps the attempt while FCM takes other sends: the project’s setup is at fault, not the recipient; still bad_credentials, which alerts', () => {
      expect(decide(createdAgo(60_000), now, busy).outcome).toEqual({
        deliveryId: 'd-1',
        status: 'failed',
        error: 'bad_credentials',
        waitMs: 3_600_000,
        attempted: false,
      });
      expect(decide(createdAgo(23 * 3_600_000), now, busy).outcome).toMatchObject({ attempted: false });
    });

    it('counts the attempt again once its message is a day old, so a delivery without an expiry still ends', () => {
      expect(decide(createdAgo(24 * 3_600_000), now, busy).outcome).not.toHaveProperty('attempted');
    });

    it('leaves the other refusals of credentials while the provider takes other sends counted', () => {
      const apns = new ProviderError({ provider: 'apns', code: ProviderErrorCode.BadCredentials, vendorCode: 'InvalidProviderToken', message: 'bad key' });
      const refused = refusedBy(apns, 5);
      const young = { ...refused, job: { ...refused.job, message: { createdAt: now.toISOString() } as DeliveryJob['message'] } };
      expect(decide(young, now, busy).outcome).not.toHaveProperty('attempted');
    });
  });
});
