import { ProviderError, ProviderErrorCode } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import type { SendAttempt } from '../senders/send-attempt';
import { TokenRefusalWatch } from './token-refusal-watch';

const job = { deliveryId: 'd' } as DeliveryJob;
/** A vendor's answer refusing a token (it carries the answer's HTTP status). */
const refused = (provider = 'apns', vendorCode = 'BadDeviceToken'): SendAttempt => ({
  job,
  result: { kind: 'refused', provider, error: new ProviderError({ provider, code: ProviderErrorCode.InvalidEndpoint, deactivateToken: true, vendorCode, status: 400, message: 'bad token' }) },
});
const accepted = (provider = 'apns'): SendAttempt => ({ job, result: { kind: 'accepted', provider, receipt: { providerMessageId: 'x', acceptedAt: new Date(0) } } });
const deactivating = (attempts: SendAttempt[]) => attempts.filter((a) => a.result.kind === 'refused' && a.result.error.deactivateToken).length;

describe('TokenRefusalWatch', () => {
  it('lets a few dead tokens among accepted sends be deactivated', () => {
    const watch = new TokenRefusalWatch(10);
    const batch = [...Array.from({ length: 12 }, () => refused()), accepted()];
    expect(deactivating(watch.review(batch).attempts)).toBe(12);
  });

  it('keeps the tokens when a provider refuses every one of them, until it accepts a send again', () => {
    const watch = new TokenRefusalWatch(10);
    const first = watch.review(Array.from({ length: 9 }, () => refused()));
    expect(deactivating(first.attempts)).toBe(9);
    const second = watch.review([refused(), refused(), refused('fcm')]);
    expect(second.suspected).toEqual(['apns']);
    expect(deactivating(second.attempts)).toBe(1);
    expect(second.attempts[0]!.result).toMatchObject({ kind: 'refused', error: { kind: 'configuration', code: 'misconfigured', vendorCode: 'BadDeviceToken', deactivateToken: false } });

    // The configuration is fixed: sends go through again, and a dead token is dead again.
    expect(deactivating(watch.review([accepted(), refused()]).attempts)).toBe(1);
  });

  it('deactivates stale tokens that come back on a retry once the provider has accepted sends since, instead of suspecting it again', () => {
    const watch = new TokenRefusalWatch(10);
    const stale = Array.from({ length: 10 }, () => refused('xiaomi', '20301'));
    expect(watch.review(stale).suspected).toEqual(['xiaomi']);
    expect(watch.review([accepted('xiaomi')]).suspected).toEqual([]);
    const retried = stale.map((attempt) => ({ ...attempt, job: { ...attempt.job, attempt: 2 } }));
    const again = watch.review(retried);
    expect(again.suspected).toEqual([]);
    expect(deactivating(again.attempts)).toBe(10);
  });

  it('suspects a later fleet-wide refusal that arrives as retries of other deliveries, after the provider accepted sends', () => {
    const watch = new TokenRefusalWatch(10);
    expect(watch.review(Array.from({ length: 10 }, () => refused('xiaomi', '20301'))).suspected).toEqual(['xiaomi']);
    expect(watch.review([accepted('xiaomi')]).suspected).toEqual([]);
    const others = Array.from({ length: 10 }, (_, index) => ({ ...refused('xiaomi', '20301'), job: { ...job, deliveryId: `other-${index}`, attempt: 2 } }));
    const later = watch.review(others);
    expect(later.suspected).toEqual(['xiaomi']);
    expect(deactivating(later.attempts)).toBe(0);
  });

  it('suspects a provider whose retried sends it never saw fail, as a worker restarted or another replica gets them', () => {
    const watch = new TokenRefusalWatch(10);
    const retried = watch.review(Array.from({ length: 10 }, () => ({ ...refused('hms', '80300007'), job: { ...job, attempt: 2 } })));
    expect(retried.suspected).toEqual(['hms']);
    expect(deactivating(retried.attempts)).toBe(0);
  });

  it('still keeps the tokens of retried sends while the provider accepts nothing (the configuration is still wrong)', () => {
    const watch = new TokenRefusalWatch(10);
    const first = Array.from({ length: 10 }, () => refused('hms', '80300007'));
    expect(watch.review(first).suspected).toEqual(['hms']);
    const retried = watch.review(first.map((attempt) => ({ ...attempt, job: { ...attempt.job, attempt: 2 } })));
    expect(retried.suspected).toEqual(['hms']);
    expect(deactivating(retried.attempts)).toBe(0);
  });

  it('reports a suspected provider only in a batch where it refused tokens, not in every other provider’s batch', () => {
    const watch = new TokenRefusalWatch(10);
    expect(watch.review(Array.from({ length: 10 }, () => refused())).suspected).toEqual(['apns']);
    expect(watch.review([accepted('fcm')]).suspected).toEqual([]);
    expect(watch.review([refused()]).suspected).toEqual(['apns']);
  });

  it('leaves out tokens the adapter refused before asking the vendor: they say nothing about the configuration', () => {
    const watch = new TokenRefusalWatch(10);
    // What the APNs adapter answers for a token that is not hex, without a request.
    const malformed = (): SendAttempt => ({
      job,
      result: { kind: 'refused', provider: 'apns', error: new ProviderError({ provider: 'apns', code: ProviderErrorCode.InvalidEndpoint, deactivateToken: true, vendorCode: 'BadDeviceToken', message: 'not hex' }) },
    });
    const review = watch.review(Array.from({ length: 12 }, malformed));
    expect(review.suspected).toEqual([]);
    expect(deactivating(review.attempts)).toBe(12);
  });

  it('suspects a provider after 10 refusals in a row however long it sent well before', () => {
    const watch = new TokenRefusalWatch(10);
    watch.review(Array.from({ length: 60 }, () => accepted()));
    expect(deactivating(watch.review(Array.from({ length: 9 }, () => refused())).attempts)).toBe(9);
    const tenth = watch.review([refused()]);
    expect(tenth.suspected).toEqual(['apns']);
    expect(deactivating(tenth.attempts)).toBe(0);
  });

  it('takes refusals in a batch that also had a send accepted for dead tokens, whatever their order', () => {
    const watch = new TokenRefusalWatch(10);
    const batch = watch.review([accepted(), ...Array.from({ length: 12 }, () => refused())]);
    expect(batch.suspected).toEqual([]);
    expect(deactivating(batch.attempts)).toBe(12);
  });

  it('suspects Mi Push after 10 requests in a row with no valid target (20301), each of which refuses every regid in it', () => {
    const watch = new TokenRefusalWatch(10);
    const verdict = watch.review(Array.from({ length: 10 }, () => refused('xiaomi', '20301')));
    expect(verdict.suspected).toEqual(['xiaomi']);
    expect(deactivating(verdict.attempts)).toBe(0);
  });

  it('counts only the refusals a configuration mistake gives: tokens that are gone are gone', () => {
    const watch = new TokenRefusalWatch(10);
    const gone = watch.review(Array.from({ length: 20 }, () => refused('apns', 'Unregistered')));
    expect(gone.suspected).toEqual([]);
    expect(deactivating(gone.attempts)).toBe(20);
  });
});
