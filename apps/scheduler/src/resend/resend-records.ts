import type { Message, TopicMessages } from 'kafkajs';
import { deliverTopic } from '@notify/contracts';
import { MAX_CHUNK_BYTES } from '@notify/kafka';
import type { ResendBatch } from '@notify/persistence';

/**
 * The records of one receiver's resend. The messages travel together — for browsers one
 * `notifications` event, for push one summary per device, for SMS and email one digest when the
 * route asks for it — else each on its own. A batch record is the same JSON as a `DeliveryBatch`,
 * put together from the jobs' JSON so that it can stop before `maxBytes`: many messages with large
 * `data` go as several batches rather than one record the broker refuses.
 */
export function resendRecords(batch: ResendBatch, maxBytes = MAX_CHUNK_BYTES): TopicMessages {
  const topic = deliverTopic(batch.channel);
  const jobs = batch.jobs.map((job) => JSON.stringify(job));
  const together = batch.channel === 'websocket' || batch.channel === 'push' || batch.digest;
  if (batch.userId === null || !together || jobs.length === 1) {
    return { topic, messages: jobs.map((value, i) => ({ key: batch.userId ?? batch.jobs[i]!.requestId, value })) };
  }
  const key = batch.userId;
  const head = `{"userId":${JSON.stringify(key)},"batch":[`;
  const record = (part: string[]): Message => ({ key, value: `${head}${part.join(',')}]}` });
  const messages: Message[] = [];
  let part: string[] = [];
  let bytes = Buffer.byteLength(head) + 2;
  for (const job of jobs) {
    const size = Buffer.byteLength(job) + 1;
    if (part.length > 0 && bytes + size > maxBytes) {
      messages.push(record(part));
      part = [];
      bytes = Buffer.byteLength(head) + 2;
    }
    part.push(job);
    bytes += size;
  }
  messages.push(record(part));
  return { topic, messages };
}
