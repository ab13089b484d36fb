import type { IHeaders, Message } from 'kafkajs';
import { DlqHeaders } from '@notify/contracts';
import type { ConsumedRecord } from './batch-consumer';
import { byteLengthOf } from './send-in-chunks';

export interface Rejection {
  record: ConsumedRecord;
  code: string;
  reason: string;
}

/** The longest `x-error-reason`: a reason lists at most ten problems (`problemsReason`), and one longer still is cut, ending in `…`. */
const MAX_REASON_LENGTH = 1000;

/**
 * Header of a dead-letter copy: the record's own timestamp, in milliseconds since 1970. The copy
 * itself is stamped when it is dead-lettered, so it lives the dead-letter topic's whole retention
 * (stamped with the record's time, a copy of a backlog hours old was deleted hours early, and a
 * broker limiting how old a timestamp may be refused it and stopped the partition). A replay of a
 * `notify.recipients` update gives its record this time: it decides which registration holds a push token.
 */
export const ORIGINAL_TIMESTAMP = 'x-original-timestamp';

/** The reason, cut to `MAX_REASON_LENGTH` with a `…` when longer, never between the two halves of a character (an emoji). */
function reasonHeader(reason: string): string {
  if (reason.length <= MAX_REASON_LENGTH) return reason;
  const kept = reason.slice(0, MAX_REASON_LENGTH - 1);
  const lastUnit = kept.charCodeAt(kept.length - 1);
  return `${lastUnit >= 0xd800 && lastUnit <= 0xdbff ? kept.slice(0, -1) : kept}…`;
}

/** The record copied unchanged (key, value, headers) with the contract's error headers and its timestamp (`x-original-timestamp`) added. */
export function deadLetterMessage({ record, code, reason }: Rejection): Message {
  return {
    key: record.key,
    value: record.value,
    headers: {
      ...writableHeaders(record.headers),
      [DlqHeaders.errorCode]: code,
      [DlqHeaders.errorReason]: reasonHeader(reason),
      [DlqHeaders.originalTopic]: record.topic,
      [DlqHeaders.originalPartition]: String(record.partition),
      [DlqHeaders.originalOffset]: record.offset,
      [ORIGINAL_TIMESTAMP]: record.timestamp,
    },
  };
}

/**
 * The record's headers, a header without a value given an empty one: kafkajs reads such a header (a
 * Java producer's `headers().add(name, null)`) as null but throws a TypeError writing it back, which
 * kafkajs takes for a crash, not a retry, so the process exited at every restart on the same batch.
 */
function writableHeaders(headers: IHeaders): IHeaders {
  const empty = Buffer.alloc(0);
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.map((v) => v ?? empty) : (value ?? empty)]));
}

/** Header of a cut-down dead-letter copy: the length in bytes of the value it leaves out. */
export const ORIGINAL_VALUE_BYTES = 'x-original-value-bytes';
/** Header of a copy cut down further, its key over the topic's limit too: the key's length in bytes. */
export const ORIGINAL_KEY_BYTES = 'x-original-key-bytes';

/**
 * A dead-letter copy the broker refused as too large, cut down: the key, the contract's error headers
 * and how long the value was (`x-original-value-bytes`), without the value and the record's own
 * headers. The record itself stays on its topic, at the offset the headers give.
 */
export function cutDownDeadLetterMessage(copy: Message): Message {
  const headers = Object.fromEntries(Object.entries(copy.headers ?? {}).filter(([name]) => ERROR_HEADERS.has(name)));
  return { key: copy.key, value: null, headers: { ...headers, [ORIGINAL_VALUE_BYTES]: String(byteLengthOf(copy.value)) } };
}

const ERROR_HEADERS = new Set<string>([...Object.values(DlqHeaders), ORIGINAL_TIMESTAMP]);

const DEAD_LETTER_SUFFIX = '.dlq';

export function deadLetterTopic(topic: string): string {
  return `${topic}${DEAD_LETTER_SUFFIX}`;
}

export function isDeadLetterTopic(topic: string): boolean {
  return topic.endsWith(DEAD_LETTER_SUFFIX);
}
