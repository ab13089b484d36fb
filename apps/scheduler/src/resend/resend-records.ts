import type { Message, TopicMessages } from 'kafkajs';
import { deliverTopic, PUSH_DATA_BYTES, type DeliveryJob } from '@notify/contracts';
import { MAX_CHUNK_BYTES, MAX_CHUNK_MESSAGES } from '@notify/kafka';
import type { ResendBatch } from '@notify/persistence';

/** One record of a receiver's resend, and how many jobs it carries. */
interface ResendRecord {
  message: Message;
  jobs: number;
}

/**
 * A claim's records in slices of at most `jobsPerSlice` jobs (but for a single record of more), one
 * produce call's worth, as `sendJobs` does: every job carries its message's `data` (up to 64 KiB), so
 * the JSON of a whole claim at once could take gigabytes where its objects take little. A slice ends
 * between records, so a receiver's records are the same however the claim is sliced.
 */
export function* resendSlices(batches: ResendBatch[], jobsPerSlice = MAX_CHUNK_MESSAGES, maxBytes = MAX_CHUNK_BYTES): Generator<TopicMessages[]> {
  let slice = new Map<string, Message[]>();
  let jobs = 0;
  for (const batch of batches) {
    const topic = deliverTopic(batch.channel);
    for (const record of recordsOf(batch, maxBytes)) {
      if (jobs > 0 && jobs + record.jobs > jobsPerSlice) {
        yield topicMessages(slice);
        slice = new Map();
        jobs = 0;
      }
      const messages = slice.get(topic);
      if (messages) messages.push(record.message);
      else slice.set(topic, [record.message]);
      jobs += record.jobs;
    }
  }
  if (jobs > 0) yield topicMessages(slice);
}

/**
 * Whether a message's `data` is over what a push carries, weighed once per object: the jobs of one
 * message share its `data` (`sharingData`), and a claim of a broadcast's receivers weighed the same
 * 16 KB for each of thousands of them.
 */
function tooLargeForPush(data: DeliveryJob['message']['data']): boolean {
  let tooLarge = weighed.get(data);
  if (tooLarge === undefined) {
    tooLarge = Buffer.byteLength(JSON.stringify(JSON.stringify(data))) > PUSH_DATA_BYTES;
    weighed.set(data, tooLarge);
  }
  return tooLarge;
}
const weighed = new WeakMap<object, boolean>();

/**
 * The records of one receiver's resend, one at a time. The messages travel together — for browsers
 * one `notifications` event, for push one summary per device, for SMS and email one digest when the
 * route asks for it — else each on its own. A batch record is the same JSON as a `DeliveryBatch`,
 * put together from the jobs' JSON so that it can stop before `maxBytes`: many messages with large
 * `data` go as several batches rather than one record the broker refuses. Each job is serialized only
 * when its record is put together, so the JSON of at most one record waits beyond what the caller keeps.
 */
function* recordsOf(batch: ResendBatch, maxBytes: number): Generator<ResendRecord> {
  const together = batch.channel === 'websocket' || batch.channel === 'push' || batch.digest;
  if (batch.userId === null || !together || batch.jobs.length === 1) {
    for (const job of batch.jobs) yield { message: { key: batch.userId ?? job.requestId, value: JSON.stringify(job) }, jobs: 1 };
    return;
  }
  const key = batch.userId;
  // An SMS or email reads no `data`, and a push carries at most PUSH_DATA_BYTES of it: counted in the
  // record's bytes, messages with large data went as several records, so several digests where the
  // route asks for one, and several summaries on one phone.
  const digest = batch.channel === 'sms' || batch.channel === 'email';
  const travelling = (job: DeliveryJob): DeliveryJob => {
    if (digest) return { ...job, message: { ...job.message, data: {} } };
    if (batch.channel === 'push' && tooLargeForPush(job.message.data)) {
      return { ...job, message: { ...job.message, data: {}, dataOmitted: true } };
    }
    return job;
  };
  const head = `{"userId":${JSON.stringify(key)},"batch":[`;
  const record = (part: string[]): ResendRecord => ({ message: { key, value: `${head}${part.join(',')}]}` }, jobs: part.length });
  let part: string[] = [];
  let bytes = Buffer.byteLength(head) + 2;
  for (const job of batch.jobs) {
    const json = JSON.stringify(travelling(job));
    const size = Buffer.byteLength(json) + 1;
    if (part.length > 0 && bytes + size > maxBytes) {
      yield record(part);
      part = [];
      bytes = Buffer.byteLength(head) + 2;
    }
    part.push(json);
    bytes += size;
  }
  yield record(part);
}

function topicMessages(slice: Map<string, Message[]>): TopicMessages[] {
  return [...slice].map(([topic, messages]) => ({ topic, messages }));
}
