import { DeliveryBatchSchema, DeliveryJobSchema, ErrorCode, jsonSyntaxProblem, type DeliveryJob, schemaProblems } from '@notify/contracts';
import type { WorkerChannel } from '@notify/config';
import type { ConsumedRecord, Rejection } from '@notify/kafka';

export interface ReadJobs {
  jobs: DeliveryJob[];
  /** Resend batches: all of one receiver's pending deliveries, to go out as one summary or digest per endpoint. */
  batches: DeliveryJob[][];
  /** Records that are not a job of this channel, for the topic's dead-letter copy. */
  rejections: Rejection[];
}

/**
 * The batch's delivery jobs, validated, once per delivery: a replay can put one job into a
 * batch twice, and claiming it once is not enough if it is sent once per copy.
 */
export function readJobs(records: ConsumedRecord[], channel: WorkerChannel): ReadJobs {
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
