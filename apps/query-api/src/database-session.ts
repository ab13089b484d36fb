/**
 * The connection string with `options=-c name=value …`: PostgreSQL applies the settings when the
 * connection starts, so every pooled connection (TypeORM's first included) has them from its first
 * statement, with nothing to repeat after a reconnect.
 */
export function withSessionSettings(databaseUrl: string, settings: Record<string, string>): string {
  const url = new URL(databaseUrl);
  const given = url.searchParams.get('options');
  const added = Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`);
  url.searchParams.set('options', [given, ...added].filter(Boolean).join(' '));
  return url.toString();
}

/**
 * The query API's session: the restricted role (reads messages, writes only recipients), generic
 * plans for its prepared statements — each names its partitions through parameters, and pruning
 * them at run time is cheaper than planning over every partition at each call — and a statement
 * timeout, so that calls their callers gave up on do not hold every connection of the pool.
 */
export function queryApiSession(role: string, statementTimeoutMs: number): Record<string, string> {
  return { role, plan_cache_mode: 'force_generic_plan', statement_timeout: String(statementTimeoutMs) };
}
