import { parse } from 'pg-connection-string';
import { withSessionSettings } from './session-settings';

describe('withSessionSettings', () => {
  it('asks PostgreSQL to apply the settings at connection start, keeping the rest of the connection string', () => {
    const url = withSessionSettings('postgres://app:secret@db.internal:6432/notify?sslmode=verify-full', { role: 'notify_query_api', statement_timeout: '10000' });
    expect(parse(url)).toMatchObject({
      user: 'app',
      password: 'secret',
      host: 'db.internal',
      port: '6432',
      database: 'notify',
      options: '-c role=notify_query_api -c statement_timeout=10000',
    });
  });

  it('adds to the options the connection string already has', () => {
    const url = withSessionSettings('postgres://app@127.0.0.1/notify?options=-c%20statement_timeout%3D5000', { role: 'reader' });
    expect(parse(url).options).toBe('-c statement_timeout=5000 -c role=reader');
  });

  it('takes a Unix socket given as a host parameter with no host in the authority, as pg does', () => {
    const url = withSessionSettings('postgres://app:secret@/notify?host=/cloudsql/project:region:instance', { role: 'reader' });
    expect(parse(url)).toMatchObject({ user: 'app', password: 'secret', host: '/cloudsql/project:region:instance', database: 'notify', options: '-c role=reader' });
  });
});
