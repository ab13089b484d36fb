import { z } from 'zod';
import { RecipientUpdateSchema, UserIdSchema, type RecipientUpdate } from '@notify/contracts';
import { parseRequest, requiredText } from '../grpc/request-fields';

/** The request of a Recipients write, as the contract section 2 update it stands for, validated like one. */
export function toRecipientUpdate(op: RecipientUpdate['op'], request: unknown): RecipientUpdate {
  const fields = Object.entries((request ?? {}) as Record<string, unknown>).filter(([, value]) => value !== '' && value !== undefined);
  return parseRequest(RecipientUpdateSchema, { ...Object.fromEntries(fields), op });
}

export const GetRecipientRequestSchema = z.object({ userId: requiredText(UserIdSchema) });
export type GetRecipientRequest = z.output<typeof GetRecipientRequestSchema>;
