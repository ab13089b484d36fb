import {
  channelWorkerSettings,
  messageCenterSettings,
  queryApiSettings,
  realtimeGatewaySettings,
  schedulerSettings,
  type SettingMap,
} from '@notify/config';

/** Every app's settings, by app: the source of the README's table of environment variables. */
export const APP_SETTINGS: Record<string, SettingMap> = {
  'message-center': messageCenterSettings,
  'realtime-gateway': realtimeGatewaySettings,
  'channel-worker': channelWorkerSettings,
  scheduler: schedulerSettings,
  'query-api': queryApiSettings,
};

/** One row per variable: its default, the apps that read it, and what it is for. */
export function environmentTable(): string {
  const rows = new Map<string, { apps: string[]; fallback: string; description: string }>();
  for (const [app, settings] of Object.entries(APP_SETTINGS)) {
    for (const item of Object.values(settings)) {
      const row = rows.get(item.env) ?? { apps: [], fallback: defaultOf(item.schema), description: item.description };
      row.apps.push(app);
      rows.set(item.env, row);
    }
  }
  const lines = ['| variable | default | used by | meaning |', '| --- | --- | --- | --- |'];
  for (const [env, row] of rows) {
    const apps = row.apps.length === Object.keys(APP_SETTINGS).length ? 'all apps' : row.apps.join(', ');
    lines.push(`| \`${env}\` | ${row.fallback} | ${apps} | ${row.description} |`);
  }
  return lines.join('\n');
}

function defaultOf(schema: { safeParse(value: unknown): { success: boolean; data?: unknown } }): string {
  const result = schema.safeParse(undefined);
  if (!result.success || result.data === undefined) return '—';
  const value = Array.isArray(result.data) ? result.data.join(',') : String(result.data);
  return value === '' ? '(empty)' : `\`${value}\``;
}

if (require.main === module) process.stdout.write(environmentTable() + '\n');
