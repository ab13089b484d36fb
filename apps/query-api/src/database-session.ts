/**
 * The query API's session: the restricted role (reads messages, writes only recipients), generic
 * plans for its prepared statements — each names its partitions through parameters, and pruning
 * them at run time is cheaper than planning over every partition at each call — and a statement
 * timeout, so that calls their callers gave up on do not hold every connection of the pool.
 */
export function queryApiSession(role: string, statementTimeoutMs: number): Record<string, string> {
  return { role, plan_cache_mode: 'force_generic_plan', statement_timeout: String(statementTimeoutMs) };
}
