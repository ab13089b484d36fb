/** Stops what the global setup started: the local broker (if any) and the run's database. */
export default async function globalTeardown(): Promise<void> {
  const teardown = (globalThis as Record<string, unknown>).__notifyTestTeardown as (() => Promise<void>) | undefined;
  await teardown?.();
}
