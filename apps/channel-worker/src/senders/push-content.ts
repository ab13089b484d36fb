import type { PushContent } from '@notify/channels';
import type { DeliveryJob } from '@notify/contracts';

/**
 * The push as every vendor gets it. Re-sends of one message replace each other on the device
 * (collapse key = message id), and the vendor drops it once the message expires.
 */
export function pushContentOf(job: DeliveryJob): PushContent {
  return {
    title: job.message.title,
    body: job.message.body,
    data: appData(job.message),
    collapseKey: job.message.id,
    priority: job.priority,
    ...(job.expiresAt === null ? {} : { expiresAt: new Date(job.expiresAt) }),
  };
}

/**
 * What the app needs to find the message in the inbox. Business data rides as one JSON string:
 * vendors take only string values and reserve some keys (FCM: `from`, `google.*`…).
 */
function appData(message: DeliveryJob['message']): Record<string, string> {
  const data: Record<string, string> = { messageId: message.id, type: message.type };
  if (message.seq !== null) data['seq'] = String(message.seq);
  if (Object.keys(message.data).length > 0) data['data'] = JSON.stringify(message.data);
  return data;
}
