import { z } from 'zod';

/** A message as a Socket.IO client sees it (contract section 4). */
export const InboxMessageSchema = z.object({
  id: z.string(),
  seq: z.number().int().positive(),
  type: z.string(),
  title: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.unknown()),
  /** Where the message leads, when it has a link: its tracked link (`/c/{token}`, contract §6) when the platform tracks clicks. */
  url: z.string().optional(),
  createdAt: z.iso.datetime(),
});
export type InboxMessage = z.infer<typeof InboxMessageSchema>;
