import type { z } from 'zod';

/** A channel configuration that cannot build a provider; lists every problem, never a value. */
export class ChannelConfigError extends Error {
  readonly code = 'invalid_channel_config';

  constructor(
    readonly channel: string,
    readonly problems: string[],
  ) {
    super(`${channel} channel configuration is invalid: ${problems.join('; ')}`);
    this.name = 'ChannelConfigError';
  }

  static fromZod(channel: string, error: z.ZodError): ChannelConfigError {
    return new ChannelConfigError(
      channel,
      error.issues.map((issue) => `${issue.path.length === 0 ? '(root)' : issue.path.join('.')}: ${issue.message}`),
    );
  }
}

/** Parses `input` with `schema`, turning zod's error into a ChannelConfigError. */
export function parseChannelConfig<S extends z.ZodType>(channel: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw ChannelConfigError.fromZod(channel, result.error);
  return result.data;
}
