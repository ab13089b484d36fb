import { asProviderError, sendExpiresAt, type ProviderError, type SendReceipt } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import type { PushDevice } from '@notify/persistence';

/** What one send of one delivery came to. */
export type SendResult =
  | { kind: 'accepted'; provider: string; receipt: SendReceipt }
  | { kind: 'refused'; provider: string; error: ProviderError }
  /** No usable endpoint: the device was removed or deactivated after the message was planned. */
  | { kind: 'unreachable' };

export interface SendAttempt {
  job: DeliveryJob;
  result: SendResult;
  /** The push device sent to, so that a token the provider calls dead can be deactivated. */
  device?: PushDevice;
}

/**
 * Runs one provider call and turns its answer, whatever it is, into an attempt. The provider's guard
 * refuses the call when the job's message has expired by its turn (`sendExpiresAt`).
 */
export async function attempt(job: DeliveryJob, provider: string, send: () => Promise<SendReceipt>): Promise<SendAttempt> {
  try {
    const receipt = await sendExpiresAt.run(job.expiresAt === null ? undefined : Date.parse(job.expiresAt), send);
    return { job, result: { kind: 'accepted', provider, receipt } };
  } catch (error) {
    return { job, result: { kind: 'refused', provider, error: asProviderError(provider, error) } };
  }
}
