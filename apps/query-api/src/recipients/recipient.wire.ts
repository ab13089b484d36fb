import type { RecipientDetails } from '@notify/persistence';
import { toOptionalTimestamp, toTimestamp } from '../grpc/timestamp';

/** A recipient as notify.v1.Recipient; empty lists and fields for a user the platform knows nothing of. */
export function toWireRecipient(userId: string, details: RecipientDetails | undefined) {
  return {
    userId,
    phone: details?.phone ?? '',
    email: details?.email ?? '',
    locale: details?.locale ?? '',
    timezone: details?.timezone ?? '',
    updatedAt: toOptionalTimestamp(details?.updatedAt),
    devices: (details?.devices ?? []).map((device) => ({
      deviceId: device.deviceId,
      provider: device.provider,
      locale: device.locale ?? '',
      active: device.active,
      deactivatedReason: device.deactivatedReason ?? '',
      updatedAt: toTimestamp(device.updatedAt),
    })),
    topics: details?.topics ?? [],
  };
}
