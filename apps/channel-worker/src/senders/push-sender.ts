import { asProviderError, chunk, failEveryToken, ProviderError, ProviderErrorCode, sendExpiresAt, type PushChannelProvider, type PushContent, type PushProviders, type PushResult } from '@notify/channels';
import type { DeliveryJob, PushProvider } from '@notify/contracts';
import type { PushDevice, PushDeviceStore } from '@notify/persistence';
import { WeightedLimit } from '../delivery/weighted-limit';
import type { ChannelSender, SendPlan } from './channel-sender';
import { pushContentOf } from './push-content';
import { parsePushEndpoint } from './push-endpoint';
import type { SendAttempt } from './send-attempt';

interface Target {
  job: DeliveryJob;
  device: PushDevice;
}

/** The deliveries of one send: one vendor, one content, many tokens. */
interface PushGroup {
  vendor: PushProvider;
  content: PushContent;
  targets: Target[];
}

/**
 * Vendor push. The job names a device; its token is read from `devices` (active ones only). Jobs of
 * one batch that go to the same vendor with the same content are sent as one token list, which
 * HMS and Xiaomi take in one request. Each vendor has its own limit of `capacity` tokens in flight,
 * across partitions: with one for all, a slow vendor's call (a Huawei token list of 200, the whole
 * limit, answered in 8 s) held up every APNs and FCM send of the process behind it.
 */
export class PushSender implements ChannelSender {
  readonly channel = 'push' as const;
  private readonly limits = new Map<PushProvider, WeightedLimit>();

  constructor(
    private readonly providers: PushProviders,
    private readonly devices: PushDeviceStore,
    private readonly capacity: number,
  ) {}

  async plan(jobs: DeliveryJob[]): Promise<SendPlan> {
    const endpoints = jobs.flatMap((job) => parsePushEndpoint(job) ?? []);
    const active = await this.devices.activeDevices(endpoints);
    const byDevice = new Map(active.map((device) => [deviceKey(device.userId, device.deviceId), device]));
    const deviceOf = (job: DeliveryJob): PushDevice | undefined => {
      const endpoint = parsePushEndpoint(job);
      if (endpoint === null) return undefined;
      const device = byDevice.get(deviceKey(endpoint.userId, endpoint.deviceId));
      // A device re-registered under another vendor has a token the endpoint's vendor cannot use.
      return device?.provider === endpoint.provider ? device : undefined;
    };
    return { send: (claimed) => this.send(claimed, deviceOf) };
  }

  private async send(jobs: DeliveryJob[], deviceOf: (job: DeliveryJob) => PushDevice | undefined): Promise<SendAttempt[]> {
    const unreachable: SendAttempt[] = [];
    const groups = new Map<string, PushGroup>();
    for (const job of jobs) {
      const device = deviceOf(job);
      if (device === undefined) {
        unreachable.push({ job, result: { kind: 'unreachable' } });
        continue;
      }
      const content = pushContentOf(job);
      const key = `${device.provider}\u0000${JSON.stringify(content)}`;
      const group = groups.get(key) ?? { vendor: device.provider, content, targets: [] };
      group.targets.push({ job, device });
      groups.set(key, group);
    }
    const sends = [...groups.values()].flatMap((group) => {
      const limit = this.limitOf(group.vendor);
      return chunk(group.targets, limit.capacity).map((targets) => limit.run(targets.length, () => this.sendMany(group, targets)));
    });
    return [...unreachable, ...(await Promise.all(sends)).flat()];
  }

  private limitOf(vendor: PushProvider): WeightedLimit {
    let limit = this.limits.get(vendor);
    if (limit === undefined) this.limits.set(vendor, (limit = new WeightedLimit(this.capacity)));
    return limit;
  }

  private async sendMany(group: PushGroup, targets: Target[]): Promise<SendAttempt[]> {
    const provider = this.providers[group.vendor];
    const tokens = targets.map((t) => t.device.token);
    // The deliveries are claimed by now: even an adapter breaking its never-reject promise must leave an outcome for each.
    // The group's content carries its messages' expiry: a call whose turn comes after it is not made.
    const send = () => provider.sendMany({ tokens, content: group.content });
    const results = await sendExpiresAt.run(group.content.expiresAt?.getTime(), send).catch((error: unknown) => failEveryToken(tokens, asProviderError(provider.id, error)));
    return targets.map(({ job, device }, index) => ({ job, device, result: resultOf(provider, results[index]) }));
  }
}

function resultOf(provider: PushChannelProvider, result: PushResult | undefined): SendAttempt['result'] {
  if (result?.receipt !== undefined) return { kind: 'accepted', provider: provider.id, receipt: result.receipt };
  if (result?.error !== undefined) return { kind: 'refused', provider: provider.id, error: result.error };
  const error = new ProviderError({ provider: provider.id, code: ProviderErrorCode.Unexpected, message: 'no result for the token' });
  return { kind: 'refused', provider: provider.id, error };
}

function deviceKey(userId: string, deviceId: string): string {
  return `${userId}\u0000${deviceId}`;
}
