import { parse } from 'pg-connection-string';
import { withSessionSettings } from '@notify/persistence';
import { queryApiSession } from './database-session';

describe('queryApiSession', () => {
  it('connects as the restricted role with generic plans and a statement timeout', () => {
    const url = withSessionSettings('postgres://app:secret@db.internal:6432/notify?sslmode=verify-full', queryApiSession('notify_query_api', 10_000));
    expect(parse(url).options).toBe('-c role=notify_query_api -c plan_cache_mode=force_generic_plan -c statement_timeout=10000');
  });
});
