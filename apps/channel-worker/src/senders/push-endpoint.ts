import { PushProviderSchema, type DeliveryJob, type PushProvider } from '@notify/contracts';

export interface PushEndpoint {
  provider: PushProvider;
  userId: string;
  deviceId: string;
}

/**
 * Reads `<provider>:<userId>/<deviceId>`, the endpoint the message center writes for a device.
 * The user id comes from the job, so ids containing `/` or `:` are read correctly. Null when the
 * endpoint does not name a device of the job's user.
 */
export function parsePushEndpoint(job: Pick<DeliveryJob, 'endpoint' | 'userId'>): PushEndpoint | null {
  const colon = job.endpoint.indexOf(':');
  if (job.userId === null || colon < 0) return null;
  const provider = PushProviderSchema.safeParse(job.endpoint.slice(0, colon));
  const prefix = `${job.endpoint.slice(0, colon)}:${job.userId}/`;
  if (!provider.success || !job.endpoint.startsWith(prefix) || job.endpoint.length === prefix.length) return null;
  return { provider: provider.data, userId: job.userId, deviceId: job.endpoint.slice(prefix.length) };
}
