/**
 * Picks the best available locale: candidates are tried in order, each first exactly (ignoring
 * case), then by its language (`zh-TW` → `zh`, then any `zh-*`); the fallback when none matches.
 * An earlier candidate's language match beats a later candidate's exact match: the request's
 * locale outranks the profile's. A candidate in Java's form (`zh_CN`, stored before locales were
 * checked) is read as the tag it means.
 */
export function pickLocale(candidates: readonly (string | null | undefined)[], available: readonly string[], fallback: string): string {
  const wanted = candidates.filter((c): c is string => typeof c === 'string' && c.length > 0);
  if (available.length === 0) return wanted[0]?.replace(/_/g, '-') ?? fallback;
  const byLower = new Map(available.map((a) => [a.toLowerCase(), a]));
  for (const candidate of wanted.map(asTag)) {
    const exact = byLower.get(candidate);
    if (exact) return exact;
    const language = candidate.split('-')[0]!;
    const sameLanguage = byLower.get(language) ?? available.find((a) => a.toLowerCase().split('-')[0] === language);
    if (sameLanguage) return sameLanguage;
  }
  return fallback;
}

/** `zh_CN` → `zh-cn`: the lower-case language tag a candidate means. */
function asTag(candidate: string): string {
  return candidate.replace(/_/g, '-').toLowerCase();
}
