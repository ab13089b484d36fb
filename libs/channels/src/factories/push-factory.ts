import type { z } from 'zod';
import { PUSH_PROVIDERS, type PushProvider } from '@notify/contracts';
import { silentLog, systemClock, type PushChannelProvider } from '../ports';
import { ApnsProvider } from '../providers/apns';
import { FcmProvider } from '../providers/fcm';
import { HmsProvider, type HmsSettings } from '../providers/hms';
import { LogPushProvider } from '../providers/log';
import { XiaomiProvider } from '../providers/xiaomi';
import { ChannelConfigError, parseChannelConfig } from './channel-config-error';
import { guardFor, type ChannelDeps } from './channel-deps';
import { resolveLimits } from './limits-config';
import { PushChannelSchema, PushDriverSchema, type HmsDriverSchema, type PushChannelConfig, type PushDriverConfig } from './push-config';
import { resolveSecret } from './secret-source';

/** Builds the push provider `config.driver` names; credentials are read here, once. */
export function createPushProvider(config: PushDriverConfig = { driver: 'log' }, deps: ChannelDeps = {}): PushChannelProvider {
  const parsed = parseChannelConfig('push', PushDriverSchema, config);
  const log = deps.log ?? silentLog;
  const clock = deps.clock ?? systemClock;
  switch (parsed.driver) {
    case 'log':
      return new LogPushProvider(log, clock);
    case 'apns':
      return new ApnsProvider(
        {
          baseUrl: parsed.baseUrl,
          teamId: parsed.teamId,
          keyId: parsed.keyId,
          topic: parsed.topic,
          signingKey: resolveSecret('push', 'apns.signingKey', parsed.signingKey, parsed.signingKeyFile),
          tokenRefreshAfterMs: parsed.tokenRefreshAfterMs,
        },
        guardFor('apns', resolveLimits(parsed.limits), deps),
        log,
        clock,
      );
    case 'fcm':
      return new FcmProvider(
        {
          baseUrl: parsed.baseUrl,
          serviceAccountJson: resolveSecret('push', 'fcm.serviceAccountJson', parsed.serviceAccountJson, parsed.serviceAccountFile),
          ...(parsed.tokenUrl === undefined ? {} : { tokenUrl: parsed.tokenUrl }),
        },
        guardFor('fcm', resolveLimits(parsed.limits), deps),
        clock,
      );
    case 'hms':
      return new HmsProvider(
        {
          baseUrl: parsed.baseUrl,
          tokenUrl: parsed.tokenUrl,
          appId: parsed.appId,
          appSecret: resolveSecret('push', 'hms.appSecret', parsed.appSecret, parsed.appSecretFile),
          ...hmsReceiptCallback(parsed),
          ...(parsed.category === undefined ? {} : { category: parsed.category }),
        },
        guardFor('hms', resolveLimits(parsed.limits), deps),
        clock,
      );
    case 'xiaomi':
      if (parsed.channelId === undefined) {
        log.warn({ provider: 'xiaomi' }, "no Mi Push channel id (PUSH_XIAOMI_CHANNEL_ID): Mi Push's default channel shows one notification per device a day, and drops the rest");
      }
      return new XiaomiProvider(
        {
          baseUrl: parsed.baseUrl,
          packageName: parsed.packageName,
          ...(parsed.channelId === undefined ? {} : { channelId: parsed.channelId }),
          ...(parsed.receiptUrl === undefined ? {} : { receiptUrl: parsed.receiptUrl }),
          appSecret: resolveSecret('push', 'xiaomi.appSecret', parsed.appSecret, parsed.appSecretFile),
        },
        guardFor('xiaomi', resolveLimits(parsed.limits), deps),
        clock,
      );
  }
}

/** The receipt callback, when both its user name and its key are given; one without the other is refused. */
function hmsReceiptCallback(parsed: z.output<typeof HmsDriverSchema>): Pick<HmsSettings, 'receiptCallback'> {
  const keyGiven = parsed.receiptKey !== undefined || parsed.receiptKeyFile !== undefined;
  if (parsed.receiptUserName === undefined && !keyGiven) return {};
  if (parsed.receiptUserName === undefined) throw new ChannelConfigError('push', ['hms.receiptKey needs hms.receiptUserName, the callback user name it signs']);
  if (!keyGiven) throw new ChannelConfigError('push', ['hms.receiptUserName needs hms.receiptKey or hms.receiptKeyFile, the callback key']);
  return { receiptCallback: { userName: parsed.receiptUserName, key: resolveSecret('push', 'hms.receiptKey', parsed.receiptKey, parsed.receiptKeyFile) } };
}

/** The provider for each device vendor of the contract; a device's `provider` field picks one. */
export type PushProviders = Record<PushProvider, PushChannelProvider>;

export function createPushProviders(config: PushChannelConfig = {}, deps: ChannelDeps = {}): PushProviders {
  const parsed = parseChannelConfig('push', PushChannelSchema, config);
  const entries = PUSH_PROVIDERS.map((vendor) => [vendor, createPushProvider(parsed[vendor] ?? { driver: 'log' }, deps)] as const);
  return Object.fromEntries(entries) as PushProviders;
}
