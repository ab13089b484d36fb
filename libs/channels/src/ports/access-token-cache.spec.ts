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

  it('refreshes a token still good in the background, sending with it meanwhile, however the refresh ends', async () => {
    const clock = new ManualClock(0);
    let hang!: () => void;
    const answers: (() => Promise<IssuedToken>)[] = [
      () => Promise.resolve({ value: 'first', expiresInMs: 600_000 }),
      // hangs until released, then fails
      () => new Promise<IssuedToken>((_resolve, reject) => (hang = () => reject(new Error('token endpoint timed out')))),
      () => Promise.reject(new Error('token endpoint answered 503')),
      () => Promise.resolve({ value: 'second', expiresInMs: 600_000 }),
    ];
    const cache = new AccessTokenCache(() => answers.shift()!(), clock, 60_000);
    const get = () => cache.get(new AbortController().signal);
    const settled = () => new Promise((resolve) => setImmediate(resolve));

    await expect(get()).resolves.toBe('first');
    clock.advance(570_000); // within the minute before it expires
    await expect(get()).resolves.toBe('first'); // the refresh hangs; the send does not wait for it
    await expect(get()).resolves.toBe('first'); // nor starts another
    expect(answers).toHaveLength(2);
    hang();
    await settled();
    clock.advance(1_000); // a failed refresh is tried again 5 s later, not at every send
    await expect(get()).resolves.toBe('first');
    expect(answers).toHaveLength(2);
    clock.advance(4_000);
    await expect(get()).resolves.toBe('first');
    await settled();
    expect(answers).toHaveLength(1);
    clock.advance(30_000); // expired: sends wait for the refresh
    await expect(get()).resolves.toBe('second');
  });

  it('fails a send when the token has expired and its refresh fails', async () => {
    const clock = new ManualClock(0);
    const answers: (() => Promise<IssuedToken>)[] = [
      () => Promise.resolve({ value: 'first', expiresInMs: 600_000 }),
      () => Promise.reject(new Error('token endpoint answered 503')),
    ];
    const cache = new AccessTokenCache(() => answers.shift()!(), clock, 60_000);
    await expect(cache.get(new AbortController().signal)).resolves.toBe('first');
    clock.advance(600_000);
    await expect(cache.get(new AbortController().signal)).rejects.toThrow('503');
  });
});
