import { z } from 'zod';
import { RequestIdSchema, UserIdSchema } from '@notify/contracts';
import { DELIVERY_STATES } from '@notify/persistence';
import { optionalText, optionalTimestamp, RANGE_PROBLEM, rangeIsOrdered, requiredText } from '../grpc/request-fields';

export const MAX_PAGE_SIZE = 200;
export const DEFAULT_PAGE_SIZE = 20;

const MessageIdSchema = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');
const TypeSchema = z.string().min(1).max(128);

export const GetMessageRequestSchema = z.object({ id: requiredText(MessageIdSchema) });

export const GetMessageByRequestIdRequestSchema = z.object({ requestId: requiredText(RequestIdSchema) });

export const ListMessagesRequestSchema = z
  .object({
    userId: requiredText(UserIdSchema),
    status: optionalText(z.enum(DELIVERY_STATES)),
    type: optionalText(TypeSchema),
    since: optionalTimestamp,
    until: optionalTimestamp,
    pageSize: z
      .number()
      .int()
      .min(0, 'must be between 1 and 200 (0 means 20)')
      .max(MAX_PAGE_SIZE, 'must be between 1 and 200 (0 means 20)')
      .optional()
      .transform((size) => (size ? size : DEFAULT_PAGE_SIZE)),
    pageToken: optionalText(z.string().max(1024)),
  })
  .refine(rangeIsOrdered, RANGE_PROBLEM);
export type ListMessagesRequest = z.output<typeof ListMessagesRequestSchema>;

export const GetStatsRequestSchema = z
  .object({
    type: optionalText(TypeSchema),
    requestId: optionalText(RequestIdSchema),
    since: optionalTimestamp,
    until: optionalTimestamp,
  })
  .refine(rangeIsOrdered, RANGE_PROBLEM);
