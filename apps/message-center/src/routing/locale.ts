import { localeTag } from '@notify/contracts';

/**
 * Picks the best available locale: candidates are tried in order, each first exactly (ignoring
 * case), then by its language (`zh-TW` → `zh`, then any `zh-*`); the fallback when none matches.
 * An earlier candidate's language match beats a later candidate's exact match: the request's
 * locale outranks the profile's. Candidates and available locales are compared as the canonical
 * tags they mean (`localeTag`): a profile stored as `zh_CN` or `in_ID` before locales were checked
 * meets the `zh-CN` or `id` template.
 */
export function pickLocale(candidates: readonly (string | null | undefined)[], available: readonly string[], fallback: string): string {
  const wanted = candidates.filter((c): c is string => typeof c === 'string' && c.length > 0);
  if (available.length === 0) return wanted[0] === undefined ? fallback : (localeTag(wanted[0]) ?? wanted[0]);
  const byTag = new Map(available.map((a) => [comparable(a), a]));
  for (const candidate of wanted.map(comparable)) {
    const exact = byTag.get(candidate);
    if (exact) return exact;
    const language = candidate.split('-')[0]!;
    const sameLanguage = byTag.get(language) ?? available.find((a) => comparable(a).split('-')[0] === language);
    if (sameLanguage) return sameLanguage;
  }
  return fallback;
}

/** `zh_CN` → `zh-cn`, `in_ID` → `id-id`: the lower-case canonical tag a locale means. */
function comparable(locale: string): string {
  return (localeTag(locale) ?? locale.replace(/_/g, '-')).toLowerCase();
}
