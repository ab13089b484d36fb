import { ProviderError, ProviderErrorCode, type PushBatch, type PushChannelProvider, type PushProviders, type PushResult } from '@notify/channels';
import { PUSH_PROVIDERS, type DeliveryJob } from '@notify/contracts';
import type { DeviceKey, PushDevice, PushDeviceStore } from '@notify/persistence';
import { PushSender } from './push-sender';

/** A vendor that records each sendMany and refuses the tokens listed in `dead`. */
class RecordingVendor implements PushChannelProvider {
  readonly channel = 'push' as const;
  readonly batches: PushBatch[] = [];

  constructor(
    readonly id: string,
    private readonly dead = new Set<string>(),
  ) {}

  send(): never {
    throw new Error('the worker sends token lists');
  }

  sendMany(batch: PushBatch): Promise<PushResult[]> {
    this.batches.push(batch);
    return Promise.resolve(
      batch.tokens.map((token) =>
        this.dead.has(token)
          ? { token, error: new ProviderError({ provider: this.id, code: ProviderErrorCode.EndpointGone, deactivateToken: true, message: 'gone' }) }
          : { token, receipt: { providerMessageId: `${this.id}-${token}`, acceptedAt: new Date(0) } },
      ),
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function devicesOf(devices: PushDevice[]): PushDeviceStore {
  return {
    activeDevices: (keys: DeviceKey[]) => Promise.resolve(devices.filter((d) => keys.some((k) => k.userId === d.userId && k.deviceId === d.deviceId))),
  } as PushDeviceStore;
}

function job(n: number, endpoint: string, messageId = 'm-1'): DeliveryJob {
  return {
    deliveryId: `d-${n}`,
    requestId: 'r-1',
    userId: endpoint.slice(endpoint.indexOf(':') + 1, endpoint.indexOf('/')),
    channel: 'push',
    endpoint,
    attempt: 1,
    expiresAt: null,
    priority: 'normal',
    locale: 'en',
    message: { id: messageId, seq: null, type: 't', title: 'Hi', body: 'There', data: {}, createdAt: '2026-03-01T10:00:00.000Z' },
  };
}

describe('PushSender', () => {
  const vendors = Object.fromEntries(PUSH_PROVIDERS.map((p) => [p, new RecordingVendor(p, new Set(['hms-gone']))])) as unknown as Record<string, RecordingVendor>;
  const devices = devicesOf([
    { userId: 'a', deviceId: 'tab', provider: 'hms', token: 'hms-a', registration: '1' },
    { userId: 'b', deviceId: 'tab', provider: 'hms', token: 'hms-b', registration: '1' },
    { userId: 'c', deviceId: 'tab', provider: 'hms', token: 'hms-gone', registration: '1' },
    { userId: 'a', deviceId: 'phone', provider: 'fcm', token: 'fcm-a', registration: '1' },
  ]);

  beforeEach(() => Object.values(vendors).forEach((v) => v.batches.splice(0)));

  it('sends one token list per vendor and content, and keeps each result with its delivery and device', async () => {
    const sender = new PushSender(vendors as unknown as PushProviders, devices, 100);
    const jobs = [job(1, 'hms:a/tab'), job(2, 'hms:b/tab'), job(3, 'hms:c/tab'), job(4, 'fcm:a/phone'), job(5, 'hms:a/tab', 'm-2')];
    const attempts = await (await sender.plan(jobs)).send(jobs);

    expect(vendors['hms']!.batches.map((b) => b.tokens)).toEqual([['hms-a', 'hms-b', 'hms-gone'], ['hms-a']]);
    expect(vendors['fcm']!.batches.map((b) => b.tokens)).toEqual([['fcm-a']]);
    const byDelivery = Object.fromEntries(attempts.map((a) => [a.job.deliveryId, a]));
    expect(byDelivery['d-2']).toMatchObject({ device: { token: 'hms-b' }, result: { kind: 'accepted', receipt: { providerMessageId: 'hms-hms-b' } } });
    expect(byDelivery['d-3']).toMatchObject({ device: { token: 'hms-gone' }, result: { kind: 'refused', error: { code: 'endpoint_gone' } } });
    expect(attempts).toHaveLength(5);
  });

  it('does not send to a device that is gone or was re-registered with another vendor', async () => {
    const sender = new PushSender(vendors as unknown as PushProviders, devices, 100);
    const jobs = [job(1, 'apns:a/tab'), job(2, 'hms:z/tab')];
    const attempts = await (await sender.plan(jobs)).send(jobs);
    expect(attempts.map((a) => a.result.kind)).toEqual(['unreachable', 'unreachable']);
    expect(Object.values(vendors).flatMap((v) => v.batches)).toEqual([]);
  });

  it('splits a token list at the concurrency limit', async () => {
    const sender = new PushSender(vendors as unknown as PushProviders, devices, 2);
    const jobs = [job(1, 'hms:a/tab'), job(2, 'hms:b/tab'), job(3, 'hms:c/tab')];
    await (await sender.plan(jobs)).send(jobs);
    expect(vendors['hms']!.batches.map((b) => b.tokens)).toEqual([['hms-a', 'hms-b'], ['hms-gone']]);
  });

  it('lets one vendor send while another vendor’s call holds all of its own limit', async () => {
    let answerHuawei!: () => void;
    const slow = new RecordingVendor('hms');
    const huaweiAnswered = new Promise<void>((resolve) => (answerHuawei = resolve));
    const sendMany = slow.sendMany.bind(slow);
    slow.sendMany = async (batch) => (await huaweiAnswered, sendMany(batch));
    const sender = new PushSender({ ...vendors, hms: slow } as unknown as PushProviders, devices, 2);
    const huawei = [job(1, 'hms:a/tab'), job(2, 'hms:b/tab')];
    const huaweiSent = (await sender.plan(huawei)).send(huawei);
    const fcm = [job(4, 'fcm:a/phone')];
    // Sent while Huawei's call of two tokens, the whole limit, has not been answered.
    expect((await (await sender.plan(fcm)).send(fcm)).map((a) => a.result.kind)).toEqual(['accepted']);
    expect(slow.batches).toEqual([]);
    answerHuawei();
    expect((await huaweiSent).map((a) => a.result.kind)).toEqual(['accepted', 'accepted']);
  });

  it('sends only the jobs that were claimed', async () => {
    const sender = new PushSender(vendors as unknown as PushProviders, devices, 100);
    const jobs = [job(1, 'hms:a/tab'), job(2, 'hms:b/tab')];
    const attempts = await (await sender.plan(jobs)).send([jobs[1]!]);
    expect(attempts.map((a) => a.job.deliveryId)).toEqual(['d-2']);
    expect(vendors['hms']!.batches.map((b) => b.tokens)).toEqual([['hms-b']]);
  });
});
