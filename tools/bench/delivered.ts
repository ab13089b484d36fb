import type { Client } from 'pg';

const GIVE_UP_MS = 10 * 60_000;

/**
 * Deliveries delivered so far (read or clicked ones included), from the GetStats counters: a few
 * rows kept in each writer's transaction. Counting `deliveries` rows instead, every 50 ms, took about
 * a tenth of PostgreSQL's busy time from the system being measured.
 */
export async function deliveredSoFar(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT coalesce(sum(delivered), 0) AS n FROM daily_delivery_stats`);
  return Number(rows[0]!.n);
}

/** Resolves once `deliveredSoFar` reaches `target`; fails after ten minutes. */
export async function waitForDelivered(db: Client, target: number, pollMs: number): Promise<void> {
  const deadline = Date.now() + GIVE_UP_MS;
  for (;;) {
    const done = await deliveredSoFar(db);
    if (done >= target) return;
    if (Date.now() > deadline) throw new Error(`only ${done} of ${target} delivered after ten minutes`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
