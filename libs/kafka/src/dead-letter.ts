import type { Message } from 'kafkajs';
import { DlqHeaders } from '@notify/contracts';
import type { ConsumedRecord } from './batch-consumer';

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

export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}
