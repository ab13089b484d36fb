import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * What the names of fields that hold personal data or secrets end with, compared without case, `-` or
 * `_`, and in the plural too (`Phone`, `phone_number`, `emails`, `jwtSecret`, `smtpPassword`,
 * `x-api-key`, `pushTokens`): their values are never written to a log, at any depth. `key` alone is
 * not one: `messageKey`, `partitionKey` and `idempotencyKey` name no secret; `accessKeyId` and
 * `deviceId` end otherwise and stay in clear too.
 */
const SENSITIVE_ENDINGS = [
  'phone', 'phoneNumber', 'mobile', 'email', 'emailAddress',
  'token', 'password', 'passphrase', 'secret', 'credential', 'cookie', 'authorization', 'databaseUrl',
  // Keys that are secrets, as the settings name them (a public key too, as JWT_PUBLIC_KEY has it: a private key pasted by mistake).
  'apiKey', 'accessKey', 'privateKey', 'publicKey', 'signingKey', 'secretKey', 'receiptKey', 'serviceAccountJson',
].map(comparable);
const SENSITIVE_NAME = new RegExp(`(?:${SENSITIVE_ENDINGS.join('|')})s?$`);
const CENSOR = '[redacted]';
/** How many causes of an error are written, each under the one before. */
const MAX_CAUSES = 5;

function comparable(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

/**
 * Whether a sensitive field's value is written all the same: a flag (`deactivateToken: true`) or
 * nothing holds no secret. A number is hidden: a phone number can be one.
 */
function harmless(value: unknown): boolean {
  return typeof value === 'boolean' || value === null || value === undefined;
}

/**
 * The log line's fields with every sensitive field's value replaced, in plain objects and arrays at
 * any depth; copied where something is replaced, never changed in place. (pino's own redaction takes
 * fixed paths: a phone number five levels down, or under `Phone`, was written in clear.) An error is
 * written as `safeError` has it, under whatever name (`failure`, `cause`) and at whatever depth; other
 * class instances are left as they are.
 */
export function redacted(value: unknown, path: object[] = []): unknown {
  if (value instanceof Error) return safeError(value);
  if (typeof value !== 'object' || value === null || path.includes(value)) return value;
  if (Array.isArray(value)) {
    const items = value.map((item) => redacted(item, [...path, value]));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, field] of Object.entries(value)) {
    const written = SENSITIVE_NAME.test(comparable(key)) && !harmless(field) ? CENSOR : redacted(field, [...path, value]);
    if (written !== field) (copy ??= { ...(value as Record<string, unknown>) })[key] = written;
  }
  return copy ?? value;
}

export type AppLogger = Logger;

/**
 * Errors are written as their class, message, code and stack only. A database error carries the
 * statement's parameters and a `detail` quoting the failing row (a recipient's phone or email), and
 * other libraries attach requests and responses: none of that may reach a log.
 */
export function safeError(value: unknown, causes = 0): unknown {
  if (!(value instanceof Error)) return value;
  const code = (value as { code?: unknown }).code;
  return {
    type: value.constructor.name,
    message: value.message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    stack: value.stack,
    // A few causes deep: a chain of causes can loop back on itself.
    ...(value.cause instanceof Error && causes < MAX_CAUSES ? { cause: safeError(value.cause, causes + 1) } : {}),
  };
}

export function createLogger(app: string, level = 'info', destination?: DestinationStream): AppLogger {
  return pino(
    {
      name: app,
      level,
      base: { app },
      formatters: { log: (fields) => redacted(fields) as Record<string, unknown> },
      serializers: { err: safeError, error: safeError },
    },
    destination,
  );
}

/** Lets NestJS write through the same redacting pino logger. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: AppLogger) {}

  log(message: unknown, context?: string): void {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string): void {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string): void {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string): void {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string): void {
    this.logger.trace({ context }, String(message));
  }
}
