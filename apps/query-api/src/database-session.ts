/**
 * The connection string with `options=-c name=value …`: PostgreSQL applies the settings when the
 * connection starts, so every pooled connection (TypeORM's first included) has them from its first
 * statement, with nothing to repeat after a reconnect. Only the query part is rewritten: a Unix
 * socket's form with no host (`postgres://user:pw@/notify?host=/run/postgresql`), which pg takes,
 * is not a URL `new URL` takes.
 */
export function withSessionSettings(databaseUrl: string, settings: Record<string, string>): string {
  const start = databaseUrl.indexOf('?');
  const [base, query] = start === -1 ? [databaseUrl, ''] : [databaseUrl.slice(0, start), databaseUrl.slice(start + 1)];
  const params = new URLSearchParams(query);
  const given = params.get('options');
  const added = Object.entries(settings).map(([name, value]) => `-c ${name}=${value}`);
  params.set('options', [given, ...added].filter(Boolean).join(' '));
  return `${base}?${params.toString()}`;
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
