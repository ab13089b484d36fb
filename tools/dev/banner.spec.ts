import jwt from 'jsonwebtoken';
import { bannerLines, shownBrokers } from './banner';
import { PLATFORM_APPS } from './platform-apps';

describe('bannerLines', () => {
  const env = { KAFKA_BROKERS: '127.0.0.1:9092', JWT_SECRET: 'a-development-secret-of-this-run-0123456789', GATEWAY_PORT: '3100' };

  it('prints the development secret it made, as contract §7 has it, and a demo token signed with it', () => {
    const text = bannerLines(env, '.data/dev-jwt-secret').join('\n');
    expect(text).toContain(`development JWT_SECRET (new on every run; signs tokens for any user, also kept in .data/dev-jwt-secret): ${env.JWT_SECRET}`);
    const link = /http:\/\/127\.0\.0\.1:3100\/demo#token=(\S+)/.exec(text);
    expect(jwt.verify(link![1]!, env.JWT_SECRET, { algorithms: ['HS256'] })).toMatchObject({ sub: 'demo' });
    for (const app of PLATFORM_APPS) expect(text).toContain(app.name);
  });

  it('prints no secret and no token when the secret is the operator’s own', () => {
    const text = bannerLines(env).join('\n');
    expect(text).not.toContain(env.JWT_SECRET);
    expect(text).not.toContain('token');
  });

  it('prints each broker, but one holding an @ only by its place: what precedes it may be a user name and password', () => {
    const brokers = 'kafka-1:9092, app:s3cret@kafka-2:9093';
    const shown = shownBrokers(brokers);
    expect(shown).toBe('"kafka-1:9092", entry 2 (not shown: it holds an @, as credentials do)');
    expect(bannerLines({ ...env, KAFKA_BROKERS: brokers }).join('\n')).toContain(`Kafka       ${shown}`);
    expect(bannerLines({ ...env, KAFKA_BROKERS: brokers }).join('\n')).not.toContain('s3cret');
  });
});
