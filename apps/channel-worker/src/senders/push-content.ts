import { shortened, type PushContent } from '@notify/channels';
import { PUSH_DATA_BYTES, type DeliveryJob } from '@notify/contracts';
import { summaryTitle } from '../delivery/summaries';

/**
 * What a push shows of a message, in characters: the vendors take 4 KB in all (APNs, FCM, HMS),
 * and a refusal for size is permanent, so a long message would never reach a phone. The app shows
 * the whole message from its inbox; the push names it.
 */
export const PUSH_TITLE_CHARS = 100;
export const PUSH_BODY_CHARS = 400;
/** Bytes a request's `data` may take in a push (less when the text is long, `PUSH_PAYLOAD_BYTES`). */
export { PUSH_DATA_BYTES };

/**
 * Bytes the title, body and data may take together, as the JSON they travel as: each is within its
 * own limit, but an emoji-heavy title and body (4 bytes a character) with data near its limit came to
 * about 4,300, which APNs refuses for good. Under 4 KB with room for the rest of the payload (`aps`
 * keys, the message id and type); the data gives way first.
 */
export const PUSH_PAYLOAD_BYTES = 3_700;

/**
 * The push as every vendor gets it, within the vendors' size. Re-sends of one message replace each
 * other on the device (collapse key = message id), and the vendor drops it once the message expires.
 */
export function pushContentOf(job: DeliveryJob): PushContent {
  // A message whose template rendered nothing still says that there is one: an empty alert shows
  // nothing on iOS, and Mi Push refuses it.
  const title = shortened(job.message.title || (job.message.body ? '' : summaryTitle(job.locale, 1)), PUSH_TITLE_CHARS);
  const body = shortened(job.message.body, PUSH_BODY_CHARS);
  const link = linkOf(job.message);
  const textBytes = Buffer.byteLength(JSON.stringify(title)) + Buffer.byteLength(JSON.stringify(body)) + (link ? Buffer.byteLength(JSON.stringify(link)) : 0);
  return {
    title,
    body,
    data: appData(job.message, Math.min(PUSH_DATA_BYTES, PUSH_PAYLOAD_BYTES - textBytes)),
    collapseKey: job.message.id,
    priority: job.priority,
    // iOS plays no sound for a push that names none (Android's default channel does): the system's
    // sound, but for a low-priority message.
    ...(job.priority === 'low' ? {} : { sound: 'default' }),
    ...(job.expiresAt === null ? {} : { expiresAt: new Date(job.expiresAt) }),
  };
}

/** Bytes of a link a push carries: a tracked link is about 90; an untracked one this long would crowd out the text. */
export const PUSH_LINK_BYTES = 512;

/** The message's link (`url` in the push's data), when it has one that fits. */
function linkOf(message: DeliveryJob['message']): string | undefined {
  return message.url && Buffer.byteLength(message.url) <= PUSH_LINK_BYTES ? message.url : undefined;
}

/**
 * What the app needs to find the message in the inbox. Business data rides as one JSON string:
 * vendors take only string values and reserve some keys (FCM: `from`, `google.*`…).
 */
function appData(message: DeliveryJob['message'], maxBytes: number): Record<string, string> {
  const data: Record<string, string> = { messageId: message.id, type: message.type };
  const link = linkOf(message);
  if (link) data['url'] = link;
  if (message.seq !== null) data['seq'] = String(message.seq);
  if (message.dataOmitted) data['dataOmitted'] = 'true';
  if (message.summaryOf !== undefined) data['summary'] = String(message.summaryOf);
  if (Object.keys(message.data).length === 0) return data;
  const json = JSON.stringify(message.data);
  if (Buffer.byteLength(JSON.stringify(json)) <= maxBytes) data['data'] = json;
  else data['dataOmitted'] = 'true';
  return data;
}
