import { ProviderError, ProviderErrorCode } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';
import type { SendAttempt } from '../senders/send-attempt';
import type { SummarizedSends } from './summaries';

export interface SentSummaries {
  attempts: SendAttempt[];
  /** The summaries that went as they were: a summary job's delivery id → the deliveries it stands for. */
  members: Map<string, DeliveryJob[]>;
  /** Messages sent on their own after their summary was refused for its content. */
  splitMessages: number;
  /** Messages not sent, beyond the claim's budget of sends: each is given back to go at once, unattempted. */
  givenBack: DeliveryJob[];
}

/**
 * Sends the jobs and summaries, and sends again, each on its own, the messages of a summary or
 * digest the vendor refused for its content (`rejected`: a word its filter refuses, a digest longer
 * than its template takes). Such a refusal is the summary's, or one message's, not every message's:
 * given to all of them, one message's refused word made every message of its receiver's digest
 * `dead`. Alone, each message gets the vendor's answer about itself. The messages keep the summary's
 * claim and attempt: it is one attempt, made twice.
 *
 * At most `budget` sends go under one claim, split messages included: the claim's lease must outlast
 * them (a refused digest of 1,000 emails, sent one by one at 4 s a mail over 5 connections, took 13
 * minutes: past the lease its sent messages were taken for lost and sent again). What is left over
 * is given back, to be claimed again at once.
 */
export async function sendSummarized(
  send: (jobs: DeliveryJob[]) => Promise<SendAttempt[]>,
  summarized: SummarizedSends,
  budget = Infinity,
): Promise<SentSummaries> {
  const members = new Map(summarized.members);
  /** The deliveries a send stands for, which then no longer go with it. */
  const takeMembers = (send: DeliveryJob): DeliveryJob[] => {
    const stood = members.get(send.deliveryId) ?? [send];
    members.delete(send.deliveryId);
    return stood;
  };
  const inBudget = summarized.sends.slice(0, budget);
  const givenBack = summarized.sends.slice(budget).flatMap(takeMembers);
  const attempts = await send(inBudget);
  const refused = attempts.filter((attempt) => members.has(attempt.job.deliveryId) && refusedForContent(attempt)).map((attempt) => attempt.job);
  if (refused.length === 0) return { attempts, members, splitMessages: 0, givenBack };
  const refusedIds = new Set(refused.map((summary) => summary.deliveryId));
  const alone = refused.flatMap(takeMembers);
  const room = Math.max(0, budget - inBudget.length);
  const aloneAttempts = room > 0 ? await send(alone.slice(0, room)) : [];
  givenBack.push(...alone.slice(room));
  return { attempts: [...attempts.filter((attempt) => !refusedIds.has(attempt.job.deliveryId)), ...aloneAttempts], members, splitMessages: aloneAttempts.length, givenBack };
}

function refusedForContent(attempt: SendAttempt): boolean {
  return attempt.result.kind === 'refused' && attempt.result.error.code === ProviderErrorCode.Rejected;
}

/**
 * A message given back unsent (beyond the claim's budget): a refusal by this platform's own limit,
 * which costs no attempt (`overloaded`), due again at once.
 */
export function givenBackAttempt(job: DeliveryJob, provider: string): SendAttempt {
  const error = new ProviderError({ provider, code: ProviderErrorCode.Overloaded, message: 'not sent: its claim had as many sends as it takes; due again now', retryAfterMs: 0 });
  return { job, result: { kind: 'refused', provider, error } };
}
