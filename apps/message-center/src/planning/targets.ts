import type { Channel, NotificationRequest } from '@notify/contracts';
import type { RecipientDirectory } from '@notify/persistence';

/** Someone a message is for: a known user, or a bare phone number or email address. */
export type Target = { kind: 'user'; userId: string } | { kind: 'phone'; phone: string } | { kind: 'email'; email: string };

/** One place a message can reach a target over a channel, and the locales to try for it, best first. */
export interface Endpoint {
  endpoint: string;
  localeCandidates: (string | null)[];
}

export function targetsOf(request: NotificationRequest, directory: RecipientDirectory): Target[] {
  const to = request.to;
  if ('userId' in to) return [{ kind: 'user', userId: to.userId }];
  if ('userIds' in to) return [...new Set(to.userIds)].map((userId) => ({ kind: 'user' as const, userId }));
  if ('topic' in to) return (directory.subscribers.get(to.topic) ?? []).map((userId) => ({ kind: 'user' as const, userId }));
  if ('phone' in to) return [{ kind: 'phone', phone: to.phone }];
  return [{ kind: 'email', email: to.email }];
}

/** The user ids and topics a batch of requests names, for one directory lookup per batch. */
export function namedRecipients(requests: NotificationRequest[]): { userIds: string[]; topics: string[] } {
  const userIds = new Set<string>();
  const topics = new Set<string>();
  for (const { to } of requests) {
    if ('userId' in to) userIds.add(to.userId);
    else if ('userIds' in to) to.userIds.forEach((id) => userIds.add(id));
    else if ('topic' in to) topics.add(to.topic);
  }
  return { userIds: [...userIds], topics: [...topics] };
}

/** Where a target can be reached over a channel; empty when it cannot. */
export function endpointsOf(target: Target, channel: Channel, requestLocale: string | undefined, directory: RecipientDirectory): Endpoint[] {
  if (target.kind === 'phone') return channel === 'sms' ? [{ endpoint: target.phone, localeCandidates: [requestLocale ?? null] }] : [];
  if (target.kind === 'email') return channel === 'email' ? [{ endpoint: target.email, localeCandidates: [requestLocale ?? null] }] : [];
  const profile = directory.profiles.get(target.userId);
  const userLocales = localeCandidatesOf(target, requestLocale, directory);
  switch (channel) {
    case 'websocket':
      return [{ endpoint: `inbox:${target.userId}`, localeCandidates: userLocales }];
    case 'push':
      return (directory.devices.get(target.userId) ?? []).map((device) => ({
        endpoint: `${device.provider}:${target.userId}/${device.deviceId}`,
        localeCandidates: [requestLocale ?? null, device.locale, profile?.locale ?? null],
      }));
    case 'sms':
      return profile?.phone ? [{ endpoint: profile.phone, localeCandidates: userLocales }] : [];
    case 'email':
      return profile?.email ? [{ endpoint: profile.email, localeCandidates: userLocales }] : [];
  }
}

/** The locales to try for a target, best first: the request's, then the user's profile. */
export function localeCandidatesOf(target: Target, requestLocale: string | undefined, directory: RecipientDirectory): (string | null)[] {
  const profile = target.kind === 'user' ? directory.profiles.get(target.userId) : undefined;
  return [requestLocale ?? null, profile?.locale ?? null];
}

export function userIdOf(target: Target): string | null {
  return target.kind === 'user' ? target.userId : null;
}
