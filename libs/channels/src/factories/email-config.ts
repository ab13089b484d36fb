import { z } from 'zod';
import { ProviderLimitsSchema } from './limits-config';
import { LogDriverSchema } from './push-config';

export const SmtpDriverSchema = z.object({
  driver: z.literal('smtp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65_535).default(587),
  secure: z.boolean().default(false),
  requireTls: z.boolean().default(false),
  user: z.string().min(1).optional(),
  password: z.string().optional(),
  passwordFile: z.string().min(1).optional(),
  from: z.string().min(3),
  maxConnections: z.number().int().positive().default(5),
  maxMessagesPerConnection: z.number().int().positive().default(100),
  allowInvalidCertificates: z.boolean().default(false),
  returnPath: z.email().optional(),
  bounceReceipts: z.boolean().default(false),
  limits: ProviderLimitsSchema,
});

/** One email provider, picked by `driver`; `log` needs nothing else. */
export const EmailDriverSchema = z.discriminatedUnion('driver', [LogDriverSchema, SmtpDriverSchema]);
export type EmailDriverConfig = z.input<typeof EmailDriverSchema>;
