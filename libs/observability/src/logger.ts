import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Names of fields that hold personal data or secrets, compared without case, `-` or `_`
 * (`Phone`, `phone_number`): their values are never written to a log, at any depth.
 */
const SENSITIVE_KEYS = new Set(
  ['phone', 'phoneNumber', 'mobile', 'email', 'emailAddress', 'token', 'pushToken', 'deviceToken', 'accessToken', 'password', 'secret', 'authorization', 'apiKey', 'databaseUrl'].map(
    comparable,
  ),
);
const CENSOR = '[redacted]';

function comparable(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

/**
 * The log line's fields with every sensitive field's value replaced, in plain objects and arrays at
 * any depth; copied where something is replaced, never changed in place. (pino's own redaction takes
 * fixed paths: a phone number five levels down, or under `Phone`, was written in clear.) Errors and
 * other class instances are left to their serializers (`safeError`).
 */
export function redacted(value: unknown, path: object[] = []): unknown {
  if (typeof value !== 'object' || value === null || path.includes(value)) return value;
  if (Array.isArray(value)) {
    const items = value.map((item) => redacted(item, [...path, value]));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return value;
  let copy: Record<string, unknown> | undefined;
  for (const [key, field] of Object.entries(value)) {
    const written = SENSITIVE_KEYS.has(comparable(key)) ? CENSOR : redacted(field, [...path, value]);
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
export function safeError(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const code = (value as { code?: unknown }).code;
  return {
    type: value.constructor.name,
    message: value.message,
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    stack: value.stack,
    ...(value.cause instanceof Error ? { cause: safeError(value.cause) } : {}),
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
