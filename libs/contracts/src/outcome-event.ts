import { z } from 'zod';
import { ChannelSchema } from './channels';

export const DELIVERY_STATUSES = ['sent', 'delivered', 'failed', 'dead', 'expired', 'read', 'clicked'] as const;
export const DeliveryStatusSchema = z.enum(DELIVERY_STATUSES);
/** A status that is published on `notify.events`. */
export type OutcomeStatus = z.infer<typeof DeliveryStatusSchema>;

/** A record on `notify.events` (contract section 3). */
export const OutcomeEventSchema = z.object({
  requestId: z.string(),
  messageId: z.string(),
  userId: z.string().nullable(),
  channel: ChannelSchema,
  status: DeliveryStatusSchema,
  attempt: z.number().int().nonnegative(),
  at: z.iso.datetime(),
  error: z.string().nullable(),
  /** Which delivery (message × channel × endpoint) changed; an addition to contract v1. */
  deliveryId: z.string().optional(),
});
export type OutcomeEvent = z.infer<typeof OutcomeEventSchema>;
