import { z } from 'zod';
import { ChannelSchema } from './channels';
import { InboxMessageSchema } from './inbox-message';
import { PrioritySchema } from './notification-request';

/**
 * A record on `notify.deliver.<channel>`: one delivery of one message to one endpoint.
 * Internal to the platform, but defined here so every consumer validates the same shape.
 */
export const DeliveryJobSchema = z.object({
  deliveryId: z.string().uuid(),
  requestId: z.string(),
  userId: z.string().nullable(),
  channel: ChannelSchema,
  endpoint: z.string(),
  attempt: z.number().int().positive(),
  expiresAt: z.iso.datetime().nullable(),
  priority: PrioritySchema,
  /** The locale the message was rendered in for this endpoint. */
  locale: z.string(),
  /** `seq` is the receiver's inbox sequence number; null for a delivery outside the inbox (a bare phone or email). */
  message: InboxMessageSchema.extend({
    seq: z.number().int().positive().nullable(),
    /** Set by the resend poller on a push job whose `data` no push could carry (`PUSH_DATA_BYTES`): left out of the record, and the push says so. */
    dataOmitted: z.literal(true).optional(),
    /** Set on the push the channel worker makes of a resend batch: how many messages it stands for (their ids in `data.messageIds`). */
    summaryOf: z.number().int().positive().optional(),
    /** On an email job only: the topic its message was sent to (`to.topic`), which the mail offers a one-click unsubscribe from (contract §6). */
    topic: z.string().min(1).optional(),
  }),
});
export type DeliveryJob = z.infer<typeof DeliveryJobSchema>;

/**
 * Bytes a message's `data` may take in a push, as the quoted JSON string it travels as; more is left
 * out (`dataOmitted`) for the app to sync. A summary's 50 message ids take about 2,070.
 */
export const PUSH_DATA_BYTES = 2_200;

/** The most messages one resend batch carries; a receiver with more pending gets them over several. */
export const MAX_BATCH_JOBS = 1000;

/**
 * A record on `notify.deliver.<channel>` that carries all of one receiver's pending messages at
 * once (the resend poller's batch): the gateway emits them as one `notifications` event with one
 * acknowledgement; the channel worker sends each device one summary push, and an SMS or email
 * digest when the route asks for one.
 */
export const DeliveryBatchSchema = z.object({
  userId: z.string(),
  batch: z.array(DeliveryJobSchema).min(1).max(MAX_BATCH_JOBS),
});
export type DeliveryBatch = z.infer<typeof DeliveryBatchSchema>;

/** Either record shape of `notify.deliver.websocket`. */
export const WebsocketDeliverySchema = z.union([DeliveryBatchSchema, DeliveryJobSchema]);
export type WebsocketDelivery = z.infer<typeof WebsocketDeliverySchema>;
