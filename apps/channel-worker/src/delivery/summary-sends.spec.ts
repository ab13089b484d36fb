import { ProviderError, ProviderErrorCode } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import type { SendAttempt } from '../senders/send-attempt';
import { deliveryJob } from './jobs.spec-helper';
import { summarize } from './summaries';
import { decideSends } from './outcome-policy';
import { givenBackAttempt, sendSummarized } from './summary-sends';

/** A vendor whose filter refuses any text with `word` in it, and otherwise takes everything. */
function filteringVendor(word: string, code: ProviderErrorCode = ProviderErrorCode.Rejected) {
  const texts: string[] = [];
  const send = async (jobs: DeliveryJob[]): Promise<SendAttempt[]> =>
    jobs.map((job): SendAttempt => {
      texts.push(job.message.body);
      if (!job.message.body.includes(word)) return { job, result: { kind: 'accepted', provider: 'twilio', receipt: { providerMessageId: `SM-${job.deliveryId}`, acceptedAt: new Date() } } };
      return { job, result: { kind: 'refused', provider: 'twilio', error: new ProviderError({ provider: 'twilio', code, message: 'refused by the filter' }) } };
    });
  return { texts, send };
}

describe('sendSummarized', () => {
  const sms = (n: number, body = `Body ${n}`) => deliveryJob(n, { channel: 'sms', endpoint: '+4915100000000', message: { ...deliveryJob(n).message, body } });
  const outcomes = (attempts: SendAttempt[]) => attempts.map((a) => [a.job.deliveryId, a.result.kind]).sort();

  it('sends again, each on its own, the messages of a digest refused for its content, so only the one refused is lost', async () => {
    const batch = [sms(1), sms(2, 'Win at the casino'), sms(3)];
    const vendor = filteringVendor('casino');
    const sent = await sendSummarized(vendor.send, summarize([sms(4)], [batch]));
    expect(vendor.texts).toHaveLength(1 + 1 + 3);
    expect(outcomes(sent.attempts)).toEqual(outcomes([
      { job: sms(1), result: { kind: 'accepted' } },
      { job: sms(2), result: { kind: 'refused' } },
      { job: sms(3), result: { kind: 'accepted' } },
      { job: sms(4), result: { kind: 'accepted' } },
    ] as SendAttempt[]));
    // Each attempt stands for itself now: no summary is left to give its outcome to its members.
    expect(sent.members.size).toBe(0);
    expect(sent.splitMessages).toBe(3);
  });

  it('keeps a digest together when it is taken, and when it is refused for something no lone message would change', async () => {
    const taken = await sendSummarized(filteringVendor('casino').send, summarize([], [[sms(1), sms(2)]]));
    expect(taken.attempts).toHaveLength(1);
    expect([...taken.members.values()].map((jobs) => jobs.length)).toEqual([2]);

    const unknownNumber = filteringVendor('Body', ProviderErrorCode.InvalidEndpoint);
    const refused = await sendSummarized(unknownNumber.send, summarize([], [[sms(1), sms(2)]]));
    expect(unknownNumber.texts).toHaveLength(1);
    expect(refused.attempts.map((a) => a.result.kind)).toEqual(['refused']);
    expect(refused.members.size).toBe(1);
    expect(refused.splitMessages).toBe(0);
  });

  it('sends at most its budget under one claim, split messages included, and gives the rest back', async () => {
    // A digest of six refused for one word: room for three more sends, so three go alone and three wait.
    const batch = [sms(1), sms(2, 'Win at the casino'), sms(3), sms(4), sms(5), sms(6)];
    const vendor = filteringVendor('casino');
    const sent = await sendSummarized(vendor.send, summarize([], [batch]), 4);
    expect(vendor.texts).toHaveLength(1 + 3);
    expect(outcomes(sent.attempts)).toEqual(outcomes([
      { job: sms(1), result: { kind: 'accepted' } },
      { job: sms(2), result: { kind: 'refused' } },
      { job: sms(3), result: { kind: 'accepted' } },
    ] as SendAttempt[]));
    expect(sent.splitMessages).toBe(3);
    expect(sent.givenBack.map((job) => job.deliveryId)).toEqual([sms(4), sms(5), sms(6)].map((job) => job.deliveryId));
  });

  it('gives back the sends beyond its budget, a summary as the messages it stands for', async () => {
    const vendor = filteringVendor('casino');
    const other = (n: number) => ({ ...sms(n), endpoint: '+4915100000001' });
    const sent = await sendSummarized(vendor.send, summarize([sms(1)], [[other(2), other(3)]]), 1);
    expect(vendor.texts).toEqual(['Body 1']);
    expect(sent.givenBack.map((job) => job.deliveryId).sort()).toEqual([other(2), other(3)].map((job) => job.deliveryId).sort());
    expect(sent.members.size).toBe(0);
  });

  it('makes a message given back failed, unattempted, and due at once', () => {
    const now = new Date('2026-12-05T20:00:00.000Z');
    const { decisions } = decideSends([givenBackAttempt(sms(1), 'sms')], new Map(), now, { configurationRetryMs: 3_600_000 });
    expect(decisions.map((d) => d.outcome)).toEqual([{ deliveryId: sms(1).deliveryId, status: 'failed', error: 'overloaded', waitMs: 0, attempted: false }]);
  });
});
