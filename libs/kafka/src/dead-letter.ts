import type { Message } from 'kafkajs';
import { DlqHeaders } from '@notify/contracts';
import type { ConsumedRecord } from './batch-consumer';
import { byteLengthOf } from './send-in-chunks';

export interface Rejection {
  record: ConsumedRecord;
  code: string;
  reason: string;
}

const MAX_REASON_LENGTH = 1000;

/** The record copied unchanged (key, value, headers) with the contract's error headers added. */
export function deadLetterMessage({ record, code, reason }: Rejection): Message {
  return {
    key: record.key,
    value: record.value,
    headers: {
      ...record.headers,
      [DlqHeaders.errorCode]: code,
      [DlqHeaders.errorReason]: reason.slice(0, MAX_REASON_LENGTH),
      [DlqHeaders.originalTopic]: record.topic,
      [DlqHeaders.originalPartition]: String(record.partition),
      [DlqHeaders.originalOffset]: record.offset,
    },
  };
}

/** Header of a cut-down dead-letter copy: the length in bytes of the value it leaves out. */
export const ORIGINAL_VALUE_BYTES = 'x-original-value-bytes';

/**
 * A dead-letter copy the broker refused as too large, cut down: the key, the contract's error headers
 * and how long the value was (`x-original-value-bytes`), without the value and the record's own
 * headers. The record itself stays on its topic, at the offset the headers give.
 */
export function cutDownDeadLetterMessage(copy: Message): Message {
  const headers = Object.fromEntries(Object.entries(copy.headers ?? {}).filter(([name]) => ERROR_HEADERS.has(name)));
  return { key: copy.key, value: null, headers: { ...headers, [ORIGINAL_VALUE_BYTES]: String(byteLengthOf(copy.value)) } };
}

const ERROR_HEADERS = new Set<string>(Object.values(DlqHeaders));

const DEAD_LETTER_SUFFIX = '.dlq';

export function deadLetterTopic(topic: string): string {
  return `${topic}${DEAD_LETTER_SUFFIX}`;
}

export function isDeadLetterTopic(topic: string): boolean {
  return topic.endsWith(DEAD_LETTER_SUFFIX);
}
