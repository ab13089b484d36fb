import { createHmac } from 'node:crypto';
import { HMS_CALLBACK_WINDOW_MS, hmsCallbackId, hmsCallbackIdMatches } from './hms-callback-id';

const callback = { userName: 'notify-receipts', key: 'callback-key-0123456789' };
const now = 1_765_000_000_000;
const nonce = 'a07bfa17-6d82-4b53-a9a2-07cfef5ceef1';

describe("Push Kit's receipt signature (X-HUAWEI-CALLBACK-ID)", () => {
  it('is the base64 HMAC-SHA256, under the callback key, of the time, the nonce and the user name joined', () => {
    const value = createHmac('sha256', callback.key).update(`${now}${nonce}${callback.userName}`).digest('base64');
    expect(hmsCallbackId(callback, now, nonce)).toBe(`timestamp=${now};nonce=${nonce};value=${value}`);
    expect(hmsCallbackIdMatches(`timestamp=${now}; nonce=${nonce}; value=${value}`, callback, now)).toBe(true);
  });

  it('is refused under another key or user name, altered, incomplete or missing', () => {
    const header = hmsCallbackId(callback, now, nonce);
    expect(hmsCallbackIdMatches(header, callback, now)).toBe(true);
    expect(hmsCallbackIdMatches(header, { ...callback, key: 'another-key-0123456789' }, now)).toBe(false);
    expect(hmsCallbackIdMatches(header, { ...callback, userName: 'someone-else' }, now)).toBe(false);
    expect(hmsCallbackIdMatches(header.replace(nonce, 'b07bfa17-6d82-4b53-a9a2-07cfef5ceef1'), callback, now)).toBe(false);
    expect(hmsCallbackIdMatches(header.replace(/;value=.*/, ''), callback, now)).toBe(false);
    expect(hmsCallbackIdMatches(header.replace(`timestamp=${now}`, 'timestamp=soon'), callback, now)).toBe(false);
    expect(hmsCallbackIdMatches(undefined, callback, now)).toBe(false);
    expect(hmsCallbackIdMatches([header, header], callback, now)).toBe(false);
  });

  it('is taken within the window of this host’s clock, in milliseconds or seconds, and refused outside it', () => {
    const early = now - HMS_CALLBACK_WINDOW_MS;
    expect(hmsCallbackIdMatches(hmsCallbackId(callback, early, nonce), callback, now)).toBe(true);
    expect(hmsCallbackIdMatches(hmsCallbackId(callback, early - 1, nonce), callback, now)).toBe(false);
    expect(hmsCallbackIdMatches(hmsCallbackId(callback, now + HMS_CALLBACK_WINDOW_MS + 1, nonce), callback, now)).toBe(false);
    expect(hmsCallbackIdMatches(hmsCallbackId(callback, Math.floor(now / 1000), nonce), callback, now)).toBe(true);
    expect(hmsCallbackIdMatches(hmsCallbackId(callback, Math.floor(now / 1000) - 3600, nonce), callback, now)).toBe(false);
  });
});
