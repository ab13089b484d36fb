import type { Clock } from './clock';

export interface IssuedToken {
  value: string;
  /** Lifetime from the moment it was issued, as the issuer said. */
  expiresInMs: number;
}

/** How long the shared fetch of a new token may take, whichever caller started it. */
const REFRESH_TIMEOUT_MS = 10_000;

/** After a refresh failed while the token was still good, the next one waits this long. */
const RETRY_REFRESH_MS = 5_000;

/**
 * An OAuth access token kept until `marginMs` before it expires. Concurrent callers share one
 * fetch, so a burst of sends after expiry makes one token request, not hundreds. The fetch runs
 * under its own timeout, not the signal of the caller that happened to start it: that caller's
 * timeout would otherwise fail every send waiting for the same token.
 *
 * Within the margin the token is still good: it is refreshed in the background while sends go on
 * with it, so a token endpoint that fails or hangs then costs no send anything (each had failed or
 * timed out, an attempt spent and the breaker told); a failed refresh is tried again
 * `RETRY_REFRESH_MS` later. Only an expired token makes sends wait for the refresh.
 */
export class AccessTokenCache {
  private cached: { value: string; refreshAt: number; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;
  private refreshFailedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly fetchToken: (signal: AbortSignal) => Promise<IssuedToken>,
    private readonly clock: Clock,
    private readonly marginMs = 60_000,
  ) {}

  async get(signal: AbortSignal): Promise<string> {
    const now = this.clock.now();
    if (this.cached !== undefined && now < this.cached.refreshAt) return this.cached.value;
    if (this.cached !== undefined && now < this.cached.expiresAt) {
      if (this.pending === undefined && now >= this.refreshFailedAt + RETRY_REFRESH_MS) {
        void this.shared().catch(() => {
          this.refreshFailedAt = this.clock.now();
        });
      }
      return this.cached.value;
    }
    return untilAborted(this.shared(), signal);
  }

  /** Forgets the token, e.g. after the vendor said it expired early or was revoked. */
  invalidate(rejected?: string): void {
    if (rejected === undefined || this.cached?.value === rejected) this.cached = undefined;
  }

  /** The refresh under way, or a new one: one at a time, whoever waits for it. */
  private shared(): Promise<string> {
    this.pending ??= this.refresh(AbortSignal.timeout(REFRESH_TIMEOUT_MS)).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async refresh(signal: AbortSignal): Promise<string> {
    const issuedAt = this.clock.now();
    const token = await this.fetchToken(signal);
    this.cached = { value: token.value, refreshAt: issuedAt + Math.max(0, token.expiresInMs - this.marginMs), expiresAt: issuedAt + token.expiresInMs };
    return token.value;
  }
}

/** The promise's outcome, or the signal's reason if it aborts first (the promise itself goes on). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
