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
