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
 * The query API's session: the restricted role (reads messages, writes only recipients), and
 * generic plans for its prepared statements — each names its partitions through parameters, and
 * pruning them at run time is cheaper than planning over every partition at each call.
 */
export function queryApiSession(role: string): Record<string, string> {
  return { role, plan_cache_mode: 'force_generic_plan' };
}
