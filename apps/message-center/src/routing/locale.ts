import { localeTag } from '@notify/contracts';

/**
 * Picks the best available locale: candidates are tried in order, each first exactly (ignoring
 * case), then by its script (`zh-HK` → `zh-TW`), then by its language (`zh-TW` → `zh`, then any
 * `zh-*`; `nb` and `no` are one language there); the fallback when none matches.
 * An earlier candidate's language match beats a later candidate's exact match: the request's
 * locale outranks the profile's. Candidates and available locales are compared as the canonical
 * tags they mean (`localeTag`): a profile stored as `zh_CN` or `in_ID` before locales were checked
 * meets the `zh-CN` or `id` template.
 */
export function pickLocale(candidates: readonly (string | null | undefined)[], available: readonly string[], fallback: string): string {
  const wanted = candidates.filter((c): c is string => typeof c === 'string' && c.length > 0);
  if (available.length === 0) return wanted[0] === undefined ? fallback : (localeTag(wanted[0]) ?? wanted[0]);
  const { byTag, templates } = templatesOf(available);
  for (const candidate of wanted.map(comparable)) {
    const exact = byTag.get(candidate) ?? narrowing(candidate).map((tag) => byTag.get(tag)).find((found) => found !== undefined);
    if (exact) return exact;
    const language = candidate.split('-')[0]!;
    const languages = [language, ...(SAME_LANGUAGE.get(language) ?? [])];
    const ofLanguage = templates.filter(([tag]) => languages.includes(tag.split('-')[0]!));
    // Next the bare language when it is written in the candidate's script, else a template of that
    // script: the one the candidate names (zh-Hans-HK → zh-CN) or, naming none, its likely one
    // (zh-HK and zh-TW → zh-TW or zh-Hant; a bare zh means Simplified).
    const script = scriptOf(candidate, true);
    const bare = languages.map((tag) => byTag.get(tag)).find((found) => found !== undefined);
    if (bare !== undefined && scriptOf(language, true) === script) return bare;
    const sameScript = script && ofLanguage.find(([tag]) => scriptOf(tag, true) === script);
    if (sameScript) return sameScript[1];
    const sameLanguage = bare ?? ofLanguage[0]?.[1];
    if (sameLanguage) return sameLanguage;
  }
  return fallback;
}

/**
 * Languages written under two codes, each the other's match when no template has the candidate's
 * own: Norwegian Bokmål is `nb`, but many devices and profiles say `no` (Norwegian), and a table may
 * have either. Nynorsk (`nn`) is a language of its own.
 */
const SAME_LANGUAGE = new Map<string, readonly string[]>([
  ['nb', ['no']],
  ['no', ['nb']],
]);

/**
 * A tag, then the same without its extensions and variants, its script, its region, down to what
 * still names a region: `zh-hans-cn-u-fw-mon` (Android's regional preferences) → `zh-hans-cn`,
 * `zh-cn`, `zh-hans`; `en-us-u-mu-celsius` → `en-us`. The language alone comes after, in `pickLocale`.
 */
function narrowing(tag: string): string[] {
  return remembered(narrowed, tag, () => narrowingOf(tag));
}

function narrowingOf(tag: string): string[] {
  let locale: Intl.Locale;
  try {
    locale = new Intl.Locale(tag);
  } catch {
    return [tag];
  }
  const { language, script, region } = locale;
  const parts = [locale.baseName, [language, script, region], [language, region], [language, script]].map((p) =>
    (Array.isArray(p) ? p.filter((part) => part !== undefined).join('-') : p).toLowerCase(),
  );
  const narrowed = [...new Set([tag, ...parts])].filter((candidate) => candidate !== language);
  // A tag without a script stands for its likely one (zh-HK: Traditional): a reader of Simplified in
  // Hong Kong (zh-Hans-HK) is not given it.
  return script === undefined ? narrowed : narrowed.filter((candidate) => scriptOf(candidate, true) === script);
}

/** The script a tag names, or with `likely` the one it most likely means (zh-HK → Hant); undefined when unknown. */
function scriptOf(tag: string, likely: boolean): string | undefined {
  return remembered(likely ? likelyScripts : namedScripts, tag, () => scriptOfTag(tag, likely));
}

function scriptOfTag(tag: string, likely: boolean): string | undefined {
  try {
    const locale = new Intl.Locale(tag);
    return (likely ? locale.maximize() : locale).script;
  } catch {
    return undefined;
  }
}

/** `zh_CN` → `zh-cn`, `in_ID` → `id-id`: the lower-case canonical tag a locale means. */
function comparable(locale: string): string {
  return remembered(comparables, locale, () => (localeTag(locale) ?? locale.replace(/_/g, '-')).toLowerCase());
}

/**
 * The available locales by the tag they mean, worked out once per list: a broadcast's planner asks
 * with the same list for every delivery (25 µs a pick when each pick canonicalised them all again).
 */
function templatesOf(available: readonly string[]): { byTag: Map<string, string>; templates: [string, string][] } {
  let found = templateTags.get(available);
  if (found === undefined) {
    const byTag = new Map(available.map((a) => [comparable(a), a]));
    found = { byTag, templates: [...byTag] };
    templateTags.set(available, found);
  }
  return found;
}
const templateTags = new WeakMap<readonly string[], { byTag: Map<string, string>; templates: [string, string][] }>();

/**
 * Parsed once per distinct tag: every delivery of a broadcast asks for its locale, and the tags a
 * platform sees are few. Bounded, since they come from requests and devices.
 */
const comparables = new Map<string, string>();
const narrowed = new Map<string, string[]>();
const namedScripts = new Map<string, string | undefined>();
const likelyScripts = new Map<string, string | undefined>();
const MAX_REMEMBERED = 1_000;

function remembered<T>(cache: Map<string, T>, tag: string, compute: () => T): T {
  if (cache.has(tag)) return cache.get(tag) as T;
  const value = compute();
  if (cache.size >= MAX_REMEMBERED) cache.clear();
  cache.set(tag, value);
  return value;
}
