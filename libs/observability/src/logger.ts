import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Logger } from 'pino';

/** Fields that hold personal data or secrets; never written to a log at any depth we log. */
const SENSITIVE_KEYS = ['phone', 'email', 'token', 'pushToken', 'password', 'secret', 'authorization', 'apiKey', 'databaseUrl'];

const REDACT_PATHS = SENSITIVE_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]);

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
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
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
