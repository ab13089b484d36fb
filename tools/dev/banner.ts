import jwt from 'jsonwebtoken';
import { list, shownEntry } from '@notify/config';
import { httpPortOf, PLATFORM_APPS } from './platform-apps';

/**
 * What `npm start` prints once every app is healthy: the broker, each app's health and metrics
 * addresses and, when it made the development `JWT_SECRET` (kept in `secretFile`), that secret, as
 * contract §7 has it (a test harness signs its users' tokens with it), and a token and the demo
 * inbox's address for the user `demo`. The secret is new on every run.
 */
export function bannerLines(env: NodeJS.ProcessEnv, secretFile?: string): string[] {
  const lines = ['', 'The notification platform is up:', `  Kafka       ${shownBrokers(env.KAFKA_BROKERS ?? '')}`];
  for (const app of PLATFORM_APPS) {
    const http = `http://127.0.0.1:${httpPortOf(app, env)}`;
    lines.push(`  ${app.name.padEnd(17)} ${http}/health ${http}/metrics${app.extra ? `  ${app.extra(env)}` : ''}`);
  }
  if (secretFile !== undefined) {
    const demoToken = jwt.sign({ sub: 'demo' }, env.JWT_SECRET!, { algorithm: 'HS256', expiresIn: '12h' });
    lines.push(
      '',
      `  development JWT_SECRET (new on every run; signs tokens for any user, also kept in ${secretFile}): ${env.JWT_SECRET}`,
      `  a token for user "demo" (12 h): ${demoToken}`,
      `  the demo inbox of "demo": http://127.0.0.1:${env.GATEWAY_PORT ?? 3000}/demo#token=${demoToken}`,
    );
  }
  lines.push('', 'Press Ctrl-C to stop everything.', '');
  return lines;
}

/** A KAFKA_BROKERS value as `npm start` prints it: each entry as the apps' settings name it, none holding an `@` in clear. */
export function shownBrokers(brokers: string): string {
  return list('').parse(brokers).map(shownEntry).join(', ');
}
