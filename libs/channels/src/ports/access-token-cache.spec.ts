import { AccessTokenCache, type IssuedToken } from './access-token-cache';
import { systemClock } from './clock';

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
});
