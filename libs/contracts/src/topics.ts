import type { Channel } from './channels';

/** Every Kafka topic of the platform, named once. */
export const Topics = {
  requests: 'notify.requests',
  requestsDlq: 'notify.requests.dlq',
  recipients: 'notify.recipients',
  recipientsDlq: 'notify.recipients.dlq',
  events: 'notify.events',
  deliver: {
    websocket: 'notify.deliver.websocket',
    push: 'notify.deliver.push',
    sms: 'notify.deliver.sms',
    email: 'notify.deliver.email',
  },
} as const satisfies Record<string, unknown> & { deliver: Record<Channel, string> };

export type DeliverTopic = (typeof Topics.deliver)[Channel];

export function deliverTopic(channel: Channel): DeliverTopic {
  return Topics.deliver[channel];
}

/** Headers on a record copied to a dead-letter topic (contract section 1). */
export const DlqHeaders = {
  errorCode: 'x-error-code',
  errorReason: 'x-error-reason',
  originalTopic: 'x-original-topic',
  originalPartition: 'x-original-partition',
  originalOffset: 'x-original-offset',
} as const;
