import { ProviderErrorCode } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import type { SendAttempt } from '../senders/send-attempt';
import type { SummarizedSends } from './summaries';

export interface SentSummaries {
  attempts: SendAttempt[];
  /** The summaries that went as they were: a summary job's delivery id → the deliveries it stands for. */
  members: Map<string, DeliveryJob[]>;
  /** Messages sent on their own after their summary was refused for its content. */
  splitMessages: number;
}

/**
 * Sends the jobs and summaries, and sends again, each on its own, the messages of a summary or
 * digest the vendor refused for its content (`rejected`: a word its filter refuses, a digest longer
 * than its template takes). Such a refusal is the summary's, or one message's, not every message's:
 * given to all of them, one message's refused word made every message of its receiver's digest
 * `dead`. Alone, each message gets the vendor's answer about itself. The messages keep the summary's
 * claim and attempt: it is one attempt, made twice.
 */
export async function sendSummarized(send: (jobs: DeliveryJob[]) => Promise<SendAttempt[]>, summarized: SummarizedSends): Promise<SentSummaries> {
  const attempts = await send(summarized.sends);
  const members = new Map(summarized.members);
  const refused = new Set(attempts.filter((attempt) => members.has(attempt.job.deliveryId) && refusedForContent(attempt)).map((attempt) => attempt.job.deliveryId));
  if (refused.size === 0) return { attempts, members, splitMessages: 0 };
  const alone = [...refused].flatMap((id) => members.get(id)!);
  for (const id of refused) members.delete(id);
  const aloneAttempts = await send(alone);
  return { attempts: [...attempts.filter((attempt) => !refused.has(attempt.job.deliveryId)), ...aloneAttempts], members, splitMessages: alone.length };
}

function refusedForContent(attempt: SendAttempt): boolean {
  return attempt.result.kind === 'refused' && attempt.result.error.code === ProviderErrorCode.Rejected;
}
