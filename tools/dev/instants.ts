/**
 * The time an operator's ISO 8601 argument names, in ms since 1970: a date (midnight UTC) or a
 * date-time with its zone (`Z` or `±hh:mm`); undefined for anything else. A date-time without a zone
 * is refused rather than read in the machine's own zone: the tools print times in UTC, and one copied
 * without its `Z` on a host in another zone named a moment hours away.
 */
export function zonedInstant(text: string): number | undefined {
  const time = Date.parse(text);
  const shaped = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text);
  return shaped && !Number.isNaN(time) ? time : undefined;
}
