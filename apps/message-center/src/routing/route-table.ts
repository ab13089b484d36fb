import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ChannelSchema, isTimeZone, localeTag, MAX_LOCALE_LENGTH, PrioritySchema, type Channel, type Priority, schemaProblems, unstorableValueProblem } from '@notify/contracts';
import { DEFAULT_RETRY, type RetryPolicy } from '@notify/persistence';
import { DurationSchema } from './duration';
import { LocalizedTemplate } from './template';

/** A message lives a while: a ttl of 0 would expire every message of the route as it arrives. */
const TtlSchema = DurationSchema.refine((ms) => ms > 0, 'more than 0: a message must live a while');

/** A message escalates through its channels: an `after` of 0 would release every one of them at once. */
const AfterSchema = DurationSchema.refine((ms) => ms > 0, 'more than 0: a delay of 0 releases every channel at once (that is policy all)');

/**
 * SQL reads the attempts back as a 32-bit `int` (`::int`): a larger number would fail every resend
 * claim of every user. A thousand is already far more tries than any notification is worth.
 */
const MAX_ATTEMPTS = 1_000;
const MaxAttemptsSchema = z.number().int().positive().max(MAX_ATTEMPTS);

/** Where a template's dates and times are shown: an IANA time zone name. */
const TimeZoneSchema = z.string().refine(isTimeZone, 'an IANA time zone, e.g. Asia/Shanghai or UTC');

/** A failed delivery waits a while before it is re-sent: a backoff of 0 would spend every attempt at once. */
const BackoffSchema = DurationSchema.refine((ms) => ms > 0, 'more than 0: a backoff of 0 re-sends at once, every attempt spent within moments');

const RetrySchema = z.strictObject({
  /** SMS and email re-sends: one digest per receiver instead of each message on its own. */
  digest: z.boolean().optional(),
  maxAttempts: MaxAttemptsSchema.optional(),
  initialBackoff: BackoffSchema.optional(),
  maxBackoff: BackoffSchema.optional(),
});

/** A template's text: one with U+0000 (`\0` in YAML) would fail the insert of every request of its route. */
const TemplateTextSchema = z.string().refine((text) => unstorableValueProblem(text) === undefined, 'text may not contain U+0000 or an unpaired UTF-16 surrogate');

/**
 * A template's locale, and a default locale: a language tag of a language the formatter knows, in at
 * most the 35 characters a delivery's locale is stored in. `jp`, `cn` or `kr` (countries, not
 * languages) loaded, and no user's `ja-JP` or `zh-CN` ever met its template.
 */
const NOT_A_LANGUAGE = 'a language tag of a language the formatter knows, e.g. en, zh-CN or ja (jp, cn and kr are countries)';
function isRouteLocale(key: string): boolean {
  const tag = localeTag(key);
  return tag !== undefined && tag.length <= MAX_LOCALE_LENGTH && Intl.PluralRules.supportedLocalesOf(tag).length > 0;
}
const RouteLocaleSchema = z.string().refine(isRouteLocale, NOT_A_LANGUAGE);

const TemplatesSchema = z
  .record(z.string(), z.strictObject({ title: TemplateTextSchema, body: TemplateTextSchema, url: TemplateTextSchema.optional() }))
  // Each key checked here, so that the problem names it (a record's own key check says only "Invalid key").
  .superRefine((templates, ctx) => {
    for (const key of Object.keys(templates)) if (!isRouteLocale(key)) ctx.addIssue({ code: 'custom', path: [key], message: NOT_A_LANGUAGE });
  });

const RouteSchema = z.strictObject({
  channels: z.array(ChannelSchema).min(1).refine((c) => new Set(c).size === c.length, 'a channel is listed twice'),
  fallback: z
    .strictObject({
      /**
       * `escalate` (the default, as with no `fallback` at all): one channel at a time, the next when the
       * one before did not reach the user; `all`: every channel at once.
       */
      policy: z.enum(['escalate', 'all']).default('escalate'),
      /** escalate also when the channel before has not been acknowledged within this time. */
      after: AfterSchema.optional(),
    })
    // The planner releases every channel of `all` at once: whoever wrote `after` there meant a route that escalates.
    .refine((fallback) => fallback.policy !== 'all' || fallback.after === undefined, {
      path: ['after'],
      message: 'applies to policy escalate only; with all, every channel goes at once',
    })
    .optional(),
  priority: PrioritySchema.optional(),
  ttl: TtlSchema.optional(),
  retry: RetrySchema.optional(),
  defaultLocale: RouteLocaleSchema.optional(),
  timeZone: TimeZoneSchema.optional(),
  templates: TemplatesSchema.optional(),
});

const DefaultsSchema = z.strictObject({
  locale: RouteLocaleSchema.default('en'),
  /** Without it, the message center's own zone (its `TZ`). */
  timeZone: TimeZoneSchema.optional(),
  priority: PrioritySchema.default('normal'),
  ttl: TtlSchema.default(7 * 86_400_000),
  /** Each setting left out is DEFAULT_RETRY's, kept apart so that a problem can say where a backoff came from. */
  retry: z.strictObject({ maxAttempts: MaxAttemptsSchema.optional(), initialBackoff: BackoffSchema.optional(), maxBackoff: BackoffSchema.optional() }).default({}),
});

const RouteFileSchema = z.strictObject({
  version: z.literal(1),
  defaults: DefaultsSchema.default({
    locale: 'en',
    priority: 'normal',
    ttl: 7 * 86_400_000,
    retry: {},
  }),
  routes: z.record(z.string().min(1), RouteSchema),
});

const DAY_MS = 86_400_000;

/** How one notification type reaches people, with every default filled in. */
export interface Route {
  type: string;
  channels: Channel[];
  fallback: { policy: 'escalate' | 'all'; afterMs: number | null };
  priority: Priority;
  ttlMs: number;
  retry: RetryPolicy;
  defaultLocale: string;
  /** Compiled templates by locale; empty when the route sends the request's literal content. */
  templates: ReadonlyMap<string, LocalizedTemplate>;
}

/** What the rest of the platform sets that a route must fit in. */
export interface RouteLimits {
  /** MESSAGE_RETENTION_DAYS: a message's rows are deleted after it, so its last fallback tier must come before. */
  retentionDays: number;
}

export class RouteTableError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`route table ${file} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'RouteTableError';
  }
}

/** Routes by notification type; `default` catches every type not listed. Validated and compiled once, at start. */
export class RouteTable {
  private constructor(private readonly routes: ReadonlyMap<string, Route>) {}

  static load(file: string, limits?: RouteLimits): RouteTable {
    let routes: unknown;
    try {
      // Every error of the file at once (a repeated key, and a bracket not closed further down), not the first.
      const document = parseDocument(readFileSync(file, 'utf8'));
      if (document.errors.length > 0) throw new RouteTableError(file, document.errors.map((error) => error.message));
      // An alias to no anchor, or too many aliases, is found only here.
      routes = document.toJS();
    } catch (error) {
      if (error instanceof RouteTableError) throw error;
      throw new RouteTableError(file, [error instanceof Error ? error.message : String(error)]);
    }
    return RouteTable.from(routes, file, limits);
  }

  /** Without limits, escalation is not checked against the retention period here but at each request (sendAtProblem). */
  static from(document: unknown, source = 'route table', limits?: RouteLimits): RouteTable {
    const parsed = RouteFileSchema.safeParse(document);
    if (!parsed.success) {
      throw new RouteTableError(source, schemaProblems(parsed.error, { keys: 'quoted' }));
    }
    const { defaults, routes } = parsed.data;
    const problems: string[] = [];
    const builtIn = (setting: 'initialBackoff' | 'maxBackoff') => ({ ms: DEFAULT_RETRY[`${setting}Ms`], from: 'the built-in default' });
    const defaultsOrder = backoffOrderProblem('defaults.retry', defaults.retry, { initialBackoff: builtIn('initialBackoff'), maxBackoff: builtIn('maxBackoff') });
    if (defaultsOrder) problems.push(defaultsOrder);
    const inherited = (setting: 'initialBackoff' | 'maxBackoff') => {
      const ms = defaults.retry[setting];
      return ms === undefined ? builtIn(setting) : { ms, from: 'from defaults' };
    };
    const retryDefaults = { initialBackoff: inherited('initialBackoff'), maxBackoff: inherited('maxBackoff') };
    const compiled = new Map<string, Route>();
    for (const [type, route] of Object.entries(routes)) {
      const templates = new Map<string, LocalizedTemplate>();
      for (const [locale, source] of Object.entries(route.templates ?? {})) {
        const compiled = LocalizedTemplate.compile(locale, source, route.timeZone ?? defaults.timeZone);
        if ('problems' in compiled) problems.push(...compiled.problems.map((p) => `routes.${type}.templates.${locale}.${p}`));
        else templates.set(locale, compiled);
      }
      const defaultLocale = route.defaultLocale ?? defaults.locale;
      const defaultTemplate = templates.get(defaultLocale);
      if (templates.size > 0 && !defaultTemplate) {
        problems.push(`routes.${type}.templates: no template for the default locale "${defaultLocale}"`);
      }
      // Data that renders the default locale must render every other one: a template that fails sends the whole request to the DLQ.
      for (const [locale, template] of templates) {
        if (defaultTemplate && locale !== defaultLocale) problems.push(...template.usesBeyond(defaultTemplate, defaultLocale).map((p) => `routes.${type}.templates.${locale}.${p}`));
      }
      const ttlMs = route.ttl ?? defaults.ttl;
      const fallback: Route['fallback'] = { policy: route.fallback?.policy ?? 'escalate', afterMs: route.fallback?.after ?? null };
      const expiry = tierExpiryProblem(route.channels.length, fallback, ttlMs);
      if (expiry) problems.push(`routes.${type}.fallback.after: ${expiry}`);
      const escalation = limits && escalationProblem(route.channels.length, fallback, limits.retentionDays);
      if (escalation) problems.push(`routes.${type}.fallback.after: ${escalation}`);
      const backoffOrder = backoffOrderProblem(`routes.${type}.retry`, route.retry ?? {}, retryDefaults);
      if (backoffOrder) problems.push(backoffOrder);
      compiled.set(type, {
        type,
        channels: route.channels,
        fallback,
        priority: route.priority ?? defaults.priority,
        ttlMs,
        retry: {
          maxAttempts: route.retry?.maxAttempts ?? defaults.retry.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
          initialBackoffMs: route.retry?.initialBackoff ?? retryDefaults.initialBackoff.ms,
          maxBackoffMs: route.retry?.maxBackoff ?? retryDefaults.maxBackoff.ms,
          digest: route.retry?.digest ?? false,
        },
        defaultLocale,
        templates,
      });
    }
    if (problems.length > 0) throw new RouteTableError(source, problems);
    return new RouteTable(compiled);
  }

  /** The route of a type, or undefined when neither the type nor `default` is listed. */
  resolve(type: string): Route | undefined {
    return this.routes.get(type) ?? this.routes.get('default');
  }
}

/**
 * Every request of the route would be refused (request-parser's sendAtProblem) when its last tier is
 * released at or after the retention period: the message could be deleted before it was sent.
 */
function escalationProblem(channels: number, fallback: Route['fallback'], retentionDays: number): string | undefined {
  const lastTierMs = lastTierDelayMs(fallback, channels);
  if (fallback.afterMs === null || lastTierMs < retentionDays * DAY_MS) return undefined;
  return `${channels} channels ${daysOf(fallback.afterMs)}d apart release the last ${daysOf(lastTierMs)} days after the first; it must be less than the ${retentionDays} days messages are kept (MESSAGE_RETENTION_DAYS)`;
}

/**
 * A message expires ttl after it is to go out, and so does every delivery of it not done by then:
 * a tier released at or after that is never sent, and the route's later channels are there for nothing.
 */
function tierExpiryProblem(channels: number, fallback: Route['fallback'], ttlMs: number): string | undefined {
  const lastTierMs = lastTierDelayMs(fallback, channels);
  if (fallback.afterMs === null || lastTierMs < ttlMs) return undefined;
  return `${channels} channels ${durationOf(fallback.afterMs)} apart release the last ${durationOf(lastTierMs)} after the first; it must be less than the ${durationOf(ttlMs)} its messages live (ttl), or the channels released then have expired and are never sent`;
}

/** A backoff a retry block does not set itself: its value, and where it comes from. */
interface InheritedBackoff {
  ms: number;
  from: string;
}

/**
 * The waits before re-sends grow from initialBackoff up to maxBackoff, which caps every one of them:
 * above it, the initial backoff is never waited. The problem is put at the backoff the block sets
 * itself (initialBackoff when it sets both), and names where the other one comes from; a block that
 * sets neither has no problem of its own (its defaults' is reported once, at them).
 */
function backoffOrderProblem(block: string, own: { initialBackoff?: number; maxBackoff?: number }, inherited: Record<'initialBackoff' | 'maxBackoff', InheritedBackoff>): string | undefined {
  const initial = own.initialBackoff ?? inherited.initialBackoff.ms;
  const max = own.maxBackoff ?? inherited.maxBackoff.ms;
  if (initial <= max) return undefined;
  const grow = 'the waits grow from initialBackoff up to maxBackoff';
  if (own.initialBackoff !== undefined) {
    const source = own.maxBackoff === undefined ? `, ${inherited.maxBackoff.from}` : '';
    return `${block}.initialBackoff: more than maxBackoff (${durationOf(max)}${source}): ${grow}`;
  }
  if (own.maxBackoff !== undefined) return `${block}.maxBackoff: less than initialBackoff (${durationOf(initial)}, ${inherited.initialBackoff.from}): ${grow}`;
  return undefined;
}

/** A duration in its largest unit: `30s`, `1.5m`, `2d`. */
function durationOf(ms: number): string {
  const [unit, size] = ([['d', DAY_MS], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const).find(([, unitMs]) => ms >= unitMs) ?? ['ms', 1];
  return `${Math.round((ms / size) * 100) / 100}${unit}`;
}

function daysOf(ms: number): number {
  return Math.round((ms / DAY_MS) * 100) / 100;
}

/**
 * The channels a request goes to, in order. Its own list, when it has one, narrows the route's and
 * keeps the route's order (the type picks the fallback order, contract section 1); a channel the
 * route does not have comes after the route's, in the request's order (the list overrides the
 * route's channels).
 */
export function channelsOf(route: Pick<Route, 'channels'>, requested: readonly Channel[] | undefined): Channel[] {
  if (!requested) return [...route.channels];
  const wanted = new Set(requested);
  return [...new Set([...route.channels.filter((channel) => wanted.has(channel)), ...requested])];
}

/**
 * How long after a message's first channel its last one is released, with `tiers` channels: escalate
 * releases the next every `after`; all releases every one at once, and so does escalate without an
 * `after` as far as time goes (the next only follows a failure, which cannot be foreseen).
 */
export function lastTierDelayMs(fallback: Route['fallback'], tiers: number): number {
  return fallback.policy === 'escalate' ? (fallback.afterMs ?? 0) * Math.max(0, tiers - 1) : 0;
}
