/**
 * The query API's session: the restricted role (reads messages, writes only recipients), generic
 * plans for its prepared statements — each names its partitions through parameters, and pruning
 * them at run time is cheaper than planning over every partition at each call — and a statement
 * timeout, so that calls their callers gave up on do not hold every connection of the pool.
 */
export function queryApiSession(role: string, statementTimeoutMs: number): Record<string, string> {
  return { role, plan_cache_mode: 'force_generic_plan', statement_timeout: String(statementTimeoutMs) };
}

/**
 * How much longer than the statement timeout a query waits for the server's answer before its
 * connection is given up (`queryTimeoutMs` of the pool). The statement timeout is the server's: a
 * server that went away without closing its connections (a failover after its host was lost, a
 * network partition) answers nothing, and every call held its pooled connection until TCP keepalive
 * noticed, about 11 minutes, while the health check's own connection reported SERVING. Past the
 * statement timeout, so that a statement that merely ran too long still ends as the server's
 * query_canceled (DEADLINE_EXCEEDED).
 */
export const READ_TIMEOUT_MARGIN_MS = 5_000;
