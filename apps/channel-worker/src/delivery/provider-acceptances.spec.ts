import { ProviderError, ProviderErrorCode } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import type { SendAttempt } from '../senders/send-attempt';
import { ProviderAcceptances } from './provider-acceptances';

const job = { deliveryId: 'd-1', attempt: 1 } as DeliveryJob;
const refused = (provider: string): SendAttempt => ({ job, result: { kind: 'refused', provider, error: new ProviderError({ provider, code: ProviderErrorCode.BadCredentials, message: 'no' }) } });
const accepted = (provider: string): SendAttempt => ({ job, result: { kind: 'accepted', provider, receipt: { providerMessageId: 'm', acceptedAt: new Date(0) } } });

describe('ProviderAcceptances', () => {
  it('says how long each provider has accepted nothing, from the worker’s start before its first acceptance', () => {
    const acceptances = new ProviderAcceptances(1_000);
    expect(acceptances.observe([refused('apns')], 61_000)('apns')).toBe(60_000);
    const later = acceptances.observe([accepted('fcm'), refused('apns')], 121_000);
    expect([later('apns'), later('fcm')]).toEqual([120_000, 0]);
    expect(acceptances.observe([refused('fcm')], 181_000)('fcm')).toBe(60_000);
    // A batch that was accepted and refused both: the provider takes sends.
    expect(acceptances.observe([refused('apns'), accepted('apns')], 241_000)('apns')).toBe(0);
  });
});
