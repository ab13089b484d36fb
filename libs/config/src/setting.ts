import { type z } from 'zod';

/** One environment variable: its schema (with the default), what it is for, and whether it is secret. */
export interface Setting<T extends z.ZodType = z.ZodType> {
  readonly env: string;
  readonly schema: T;
  readonly description: string;
  readonly sensitive: boolean;
}

export function setting<T extends z.ZodType>(
  env: string,
  schema: T,
  description: string,
  options: { sensitive?: boolean } = {},
): Setting<T> {
  return { env, schema, description, sensitive: options.sensitive ?? false };
}

export type SettingMap = Record<string, Setting>;
export type ConfigOf<S extends SettingMap> = { readonly [K in keyof S]: z.output<S[K]['schema']> };

/**
 * A rule across several settings; returns the problems it finds. It sees the settings that
 * parsed (a setting that failed is undefined) and the raw environment.
 */
export type CrossCheck<S extends SettingMap> = (config: ConfigOf<S>, env: NodeJS.ProcessEnv) => string[];

export class ConfigError extends Error {
  constructor(
    readonly app: string,
    readonly problems: string[],
  ) {
    super(`${app}: invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * A bad value is quoted in the error only when it is short (16 characters) and made of word characters, dots,
 * commas, plus and minus signs: a number, a word, a list, a duration. Anything else may be a secret
 * in the wrong variable (a private key pasted as JWT_PUBLIC_KEY) or carry one (a URL with an API key
 * in its query, a host with a password before `@`), and the error is logged.
 */
const SHOWN = /^[\w.,+-]{1,16}$/;

/** Parses every setting, then the cross checks, and fails once listing every problem. */
export function loadConfig<S extends SettingMap>(
  app: string,
  settings: S,
  env: NodeJS.ProcessEnv = process.env,
  checks: CrossCheck<S>[] = [],
): ConfigOf<S> {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(settings)) {
    const raw = env[item.env];
    const result = item.schema.safeParse(raw === '' ? undefined : raw);
    if (result.success) {
      config[key] = result.data;
    } else {
      const shown = item.sensitive || raw === undefined || !SHOWN.test(raw) ? '' : ` (got "${raw}")`;
      problems.push(`${item.env}: ${result.error.issues.map((i) => i.message).join('; ')}${shown}`);
    }
  }
  // Cross checks see the settings that did parse, so one run reports every problem at once.
  for (const check of checks) problems.push(...check(config as ConfigOf<S>, env));
  if (problems.length > 0) throw new ConfigError(app, problems);
  return Object.freeze(config) as ConfigOf<S>;
}
