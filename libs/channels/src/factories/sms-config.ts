import { z } from 'zod';
import { ProviderLimitsSchema } from './limits-config';
import { LogDriverSchema } from './push-config';

/**
 * Header names and values an HTTP request can carry: one with a space in its name, or a line break
 * in its value (a token pasted with its newline), failed every send as the vendor's trouble.
 */
export const HttpHeadersSchema = z.record(
  z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'a header name: letters, digits and !#$%&\'*+.^_`|~-, no spaces'),
  // eslint-disable-next-line no-control-regex -- what it refuses are control characters
  z.string().regex(/^[^\u0000-\u0008\u000a-\u001f\u007f]*$/, 'a header value without line breaks or control characters'),
);

export const TwilioDriverSchema = z.object({
  driver: z.literal('twilio'),
  baseUrl: z.url().default('https://api.twilio.com'),
  accountSid: z.string().min(1),
  authToken: z.string().min(1).optional(),
  authTokenFile: z.string().min(1).optional(),
  from: z.string().min(1),
  statusCallbackUrl: z.url().optional(),
  limits: ProviderLimitsSchema,
});

export const AliyunDriverSchema = z.object({
  driver: z.literal('aliyun'),
  baseUrl: z.url().default('https://dysmsapi.aliyuncs.com'),
  accessKeyId: z.string().min(1),
  accessKeySecret: z.string().min(1).optional(),
  accessKeySecretFile: z.string().min(1).optional(),
  regionId: z.string().min(1).default('cn-hangzhou'),
  signName: z.string().min(1),
  templateCode: z.string().min(1),
  bodyParam: z.string().min(1).default('content'),
  limits: ProviderLimitsSchema,
});

export const HttpSmsDriverSchema = z.object({
  driver: z.literal('http'),
  url: z.url(),
  format: z.enum(['json', 'form']).default('json'),
  bodyTemplate: z.string().min(1),
  /** Headers that carry credentials; or `headersFile`, a JSON object of headers. */
  headers: HttpHeadersSchema.optional(),
  headersFile: z.string().min(1).optional(),
  from: z.string().default(''),
  messageIdPath: z.string().min(1).optional(),
  limits: ProviderLimitsSchema,
});

/** One SMS provider, picked by `driver`; `log` needs nothing else. */
export const SmsDriverSchema = z.discriminatedUnion('driver', [LogDriverSchema, TwilioDriverSchema, AliyunDriverSchema, HttpSmsDriverSchema]);
export type SmsDriverConfig = z.input<typeof SmsDriverSchema>;
