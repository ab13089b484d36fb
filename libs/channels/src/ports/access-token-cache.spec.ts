import { AccessTokenCache, type IssuedToken } from './access-token-cache';
import { systemClock } from './clock';
import { ManualClock } from '@notify/testing';

describe('AccessTokenCache', () => {
  it('gives the token to every waiting caller though the one that started the fetch gave up', async () => {
    let issue: (token: IssuedToken) => void = () => undefined;
    const fetchSignals: AbortSignal[] = [];
    let fetches = 0;
    const cache = new AccessTokenCache((signal) => {
      fetches += 1;
      fetchSignals.push(signal);
      return new Promise<IssuedToken>((resolve) => (issue = resolve));
    }, systemClock);

    const impatient = new AbortController();
    const first = cache.get(impatient.signal);
    const second = cache.get(new AbortController().signal);
    impatient.abort(new Error('the first send timed out'));
    await expect(first).rejects.toThrow('the first send timed out');
    expect(fetchSignals[0]!.aborted).toBe(false);

    issue({ value: 'ya29.token', expiresInMs: 3_600_000 });
    await expect(second).resolves.toBe('ya29.token');
    await expect(cache.get(new AbortController().signal)).resolves.toBe('ya29.token');
    expect(fetches).toBe(1);
  });

  it('keeps using a token still good when its refresh within the margin fails, and fails once it has expired', async () => {
    const clock = new ManualClock(0);
    const answers: (() => Promise<IssuedToken>)[] = [
      () => Promise.resolve({ value: 'first', expiresInMs: 600_000 }),
      () => Promise.reject(new Error('token endpoint answered 503')),
      () => Promise.reject(new Error('token endpoint answered 503')),
      () => Promise.resolve({ value: 'second', expiresInMs: 600_000 }),
    ];
    const cache = new AccessTokenCache(() => answers.shift()!(), clock, 60_000);
    const get = () => cache.get(new AbortController().signal);

    await expect(get()).resolves.toBe('first');
    clock.advance(570_000); // within the minute before it expires: refreshed, and the refresh fails
    await expect(get()).resolves.toBe('first');
    clock.advance(30_000); // expired: nothing to fall back on
    await expect(get()).rejects.toThrow('503');
    await expect(get()).resolves.toBe('second');
    expect(answers).toHaveLength(0);
  });
});
