import { ProviderError, ProviderErrorCode } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import { createLogger, Metrics } from '@notify/observability';
import type { SendAttempt } from '../senders/send-attempt';
import { DeliveryReport } from './delivery-report';
import type { Decision } from './outcome-policy';

describe('DeliveryReport', () => {
  it('counts a device deactivated once, however many messages of a summary went to it', async () => {
    const metrics = new Metrics('delivery-report-spec');
    const report = new DeliveryReport(metrics, createLogger('delivery-report-spec', 'silent'));
    const gone = new ProviderError({ provider: 'apns', code: ProviderErrorCode.EndpointGone, vendorCode: 'Unregistered', status: 410, deactivateToken: true, message: 'gone' });
    // Three messages of one summary to one phone, whose token APNs calls gone; and one other phone.
    const devices = ['phone', 'phone', 'phone', 'tablet'];
    const attempts: SendAttempt[] = devices.map((_, i) => ({ job: { deliveryId: `d${i}` } as DeliveryJob, result: { kind: 'refused', provider: 'apns', error: gone } }));
    const decisions: Decision[] = devices.map((deviceId, i) => ({
      outcome: { deliveryId: `d${i}`, status: 'dead', error: 'endpoint_gone', waitMs: null },
      deactivation: { userId: 'u', deviceId, token: `token-${deviceId}`, reason: 'Unregistered', registration: 'r' },
    }));

    report.sent('push', attempts, decisions);

    const counted = (await metrics.registry.getSingleMetric('notify_push_devices_deactivated_total')!.get()).values;
    expect(counted.map((v) => [v.labels.provider, v.value])).toEqual([['apns', 2]]);
  });
});
