import type { DeliveryJob } from '@notify/contracts';
import type { RecipientStore } from '@notify/persistence';
import type { SendAttempt } from './send-attempt';

/**
 * Which jobs still go to their user's number or address. A job carries the endpoint its message was
 * planned with, and a retry, a scheduled send or a later tier goes minutes to days after. A user who
 * has changed their number since may have given the old one up, and a number given up is given to
 * someone else: a security code or a reminder must not follow it. Such a job is `unreachable`, which
 * ends its delivery `no_endpoint` and lets the route's next tier go, as for a push device removed
 * since. A job for a bare number or address (no user) goes as it came.
 */
export async function currentEndpoints(recipients: Pick<RecipientStore, 'profiles'>, jobs: DeliveryJob[], field: 'phone' | 'email'): Promise<(job: DeliveryJob) => boolean> {
  const current = await recipients.profiles(jobs.flatMap((job) => job.userId ?? []));
  // An address written again in other letter cases is the same mailbox.
  const same = field === 'email' ? (a: string, b: string) => a.toLowerCase() === b.toLowerCase() : (a: string, b: string) => a === b;
  return (job) => {
    if (job.userId === null) return true;
    const now = current.get(job.userId)?.[field];
    return typeof now === 'string' && same(now, job.endpoint);
  };
}

/** The attempt of a job whose endpoint is no longer its user's. */
export function unreachable(job: DeliveryJob): SendAttempt {
  return { job, result: { kind: 'unreachable' } };
}
