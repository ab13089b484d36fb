import { ProviderError, ProviderErrorCode } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import type { SendAttempt } from '../senders/send-attempt';
import { ConfigurationOutages } from './configuration-outages';

const job = { deliveryId: 'd-1', attempt: 1 } as DeliveryJob;
const refused = (provider: string, code: ProviderErrorCode): SendAttempt => ({ job, result: { kind: 'refused', provider, error: new ProviderError({ provider, code, message: 'no' }) } });
const accepted = (provider: string): SendAttempt => ({ job, result: { kind: 'accepted', provider, receipt: { providerMessageId: 'm', acceptedAt: new Date(0) } } });

describe('ConfigurationOutages', () => {
  it('counts a provider’s outage from its first configuration error until it accepts a send again', () => {
    const outages = new ConfigurationOutages();
    expect(outages.observe([refused('apns', ProviderErrorCode.BadCredentials)], 1_000)('apns')).toBe(0);
    expect(outages.observe([refused('apns', ProviderErrorCode.Misconfigured)], 61_000)('apns')).toBe(60_000);
    // Another provider's answers and other kinds of error neither start nor end it.
    const later = outages.observe([accepted('fcm'), refused('apns', ProviderErrorCode.Unavailable)], 121_000);
    expect([later('apns'), later('fcm')]).toEqual([120_000, 0]);
    expect(outages.observe([accepted('apns')], 181_000)('apns')).toBe(0);
    expect(outages.observe([refused('apns', ProviderErrorCode.BadCredentials)], 241_000)('apns')).toBe(0);
  });

  it('starts no outage for a provider that accepted a send in the same batch', () => {
    const outages = new ConfigurationOutages();
    outages.observe([refused('twilio', ProviderErrorCode.Misconfigured), accepted('twilio')], 1_000);
    expect(outages.observe([refused('twilio', ProviderErrorCode.Misconfigured)], 5_000)('twilio')).toBe(0);
  });
});
