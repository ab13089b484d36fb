/**
 * At most one alert line per kind every `everyMs`, saying how many were held back since the last:
 * a refusal that repeats for every send (a revoked key, a broken DMARC record) would otherwise log a
 * line per message. A clock stepped back counts as the interval passed, so it never silences them.
 */
export class HeldBackAlerts {
  private readonly last = new Map<string, { at: number; heldBack: number }>();

  constructor(private readonly everyMs: number) {}

  /** How many of `kind` were held back since its last line, when this one is to be logged now; undefined when it is held back too. */
  take(kind: string, now: number, count = 1): number | undefined {
    const last = this.last.get(kind);
    if (last !== undefined && now >= last.at && now - last.at < this.everyMs) {
      last.heldBack += count;
      return undefined;
    }
    this.last.set(kind, { at: now, heldBack: 0 });
    return last?.heldBack ?? 0;
  }
}
