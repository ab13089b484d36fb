/**
 * The slice of a pino logger the adapters write to; the worker passes its own (redacting) logger.
 * Adapters put only masked endpoints and never a credential into the fields or the message.
 */
export interface ProviderLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const silentLog: ProviderLog = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
