import { DeliveryBatchSchema, DeliveryJobSchema, ErrorCode, jsonSyntaxProblem, type Channel, type DeliveryJob, schemaProblems } from '@notify/contracts';
import type { ConsumedRecord } from './batch-consumer';
import type { Rejection } from './dead-letter';

export interface ReadJobs {
  jobs: DeliveryJob[];
  /** Resend batches: all of one receiver's pending deliveries, to go out as one summary or digest per endpoint. */
  batches: DeliveryJob[][];
  /** Records that are not a job of this channel, for the topic's dead-letter copy. */
  rejections: Rejection[];
}

/**
 * The delivery jobs of a batch of `notify.deliver.<channel>` records, validated, once per delivery:
 * a replay can put one job into a batch twice, and claiming it once is not enough if it is sent once
 * per copy. What is not a job of the channel is a rejection, for the topic's dead-letter copy.
 */
export function readJobs(records: ConsumedRecord[], channel: Channel): ReadJobs {
  const jobs = new Map<string, DeliveryJob>();
  const batches: DeliveryJob[][] = [];
  const rejections: Rejection[] = [];
  for (const record of records) {
    let value: unknown;
    try {
      value = JSON.parse(record.value?.toString('utf8') ?? '');
    } catch (error) {
      rejections.push({ record, code: ErrorCode.InvalidJson, reason: jsonSyntaxProblem(error) });
      continue;
    }
    const batch = DeliveryBatchSchema.safeParse(value);
    if (batch.success && batch.data.batch.every((job) => job.channel === channel)) {
      // Emitted to its user's room or sent to its user's devices as one: a job of another user in it
      // would reach the wrong person, and that person's acknowledgement would record it delivered.
      if (batch.data.batch.some((job) => job.userId !== batch.data.userId)) {
        rejections.push({ record, code: ErrorCode.SchemaViolation, reason: 'batch: every job of a resend batch is for its userId' });
        continue;
      }
      const fresh = batch.data.batch.filter((job) => !jobs.has(job.deliveryId));
      for (const job of fresh) jobs.set(job.deliveryId, job);
      if (fresh.length > 0) batches.push(fresh);
      continue;
    }
    const parsed = DeliveryJobSchema.safeParse(value);
    if (!parsed.success) {
      const reason = schemaProblems(parsed.error).join('; ');
      rejections.push({ record, code: ErrorCode.SchemaViolation, reason });
    } else if (parsed.data.channel !== channel) {
      rejections.push({ record, code: ErrorCode.SchemaViolation, reason: `job for the ${parsed.data.channel} channel on the ${channel} topic` });
    } else if (!jobs.has(parsed.data.deliveryId)) {
      jobs.set(parsed.data.deliveryId, parsed.data);
    }
  }
  return { jobs: [...jobs.values()], batches, rejections };
}
