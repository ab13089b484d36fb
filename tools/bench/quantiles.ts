/** Quantiles of a set of measurements (nearest rank): `at(0.99)` is the p99; NaN when there are none. */
export function quantiles(values: ArrayLike<number>): { at(q: number): number; max: number } {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number): number => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
  return { at, max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]! };
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
