import { z } from 'zod';
import { RequestIdSchema, UserIdSchema } from '@notify/contracts';
import { DELIVERY_STATES } from '@notify/persistence';
import { optionalText, optionalTimestamp, RANGE_PROBLEM, rangeIsOrdered, requiredText } from '../grpc/request-fields';

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 20;
export const MAX_DELIVERY_PAGE_SIZE = 1_000;
export const DEFAULT_DELIVERY_PAGE_SIZE = 100;

/** A page size from 1 to `max`; 0 (proto3's "not given") means `fallback`. */
function pageSizeSchema(max: number, fallback: number) {
  const range = `must be between 1 and ${max} (0 means ${fallback})`;
  return z
    .number()
    .int()
    .min(0, range)
    .max(max, range)
    .optional()
    .transform((size) => (size ? size : fallback));
}

const MessageIdSchema = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');
const TypeSchema = z.string().min(1).max(128);

export const GetMessageRequestSchema = z.object({ id: requiredText(MessageIdSchema) });
export type GetMessageRequest = z.output<typeof GetMessageRequestSchema>;

export const GetMessageByRequestIdRequestSchema = z.object({ requestId: requiredText(RequestIdSchema) });
export type GetMessageByRequestIdRequest = z.output<typeof GetMessageByRequestIdRequestSchema>;

export const ListMessagesRequestSchema = z
  .object({
    userId: requiredText(UserIdSchema),
    status: optionalText(z.enum(DELIVERY_STATES)),
    type: optionalText(TypeSchema),
    since: optionalTimestamp,
    until: optionalTimestamp,
    pageSize: pageSizeSchema(MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE),
    pageToken: optionalText(z.string().max(1024)),
  })
  .refine(rangeIsOrdered, RANGE_PROBLEM);
export type ListMessagesRequest = z.output<typeof ListMessagesRequestSchema>;

export const ListDeliveriesRequestSchema = z.object({
  messageId: requiredText(MessageIdSchema),
  pageSize: pageSizeSchema(MAX_DELIVERY_PAGE_SIZE, DEFAULT_DELIVERY_PAGE_SIZE),
  pageToken: optionalText(z.string().max(1024)),
});
export type ListDeliveriesRequest = z.output<typeof ListDeliveriesRequestSchema>;

export const GetStatsRequestSchema = z
  .object({
    type: optionalText(TypeSchema),
    requestId: optionalText(RequestIdSchema),
    since: optionalTimestamp,
    until: optionalTimestamp,
  })
  .refine(rangeIsOrdered, RANGE_PROBLEM);
export type GetStatsRequest = z.output<typeof GetStatsRequestSchema>;
