import type { Clock } from './clock';

export interface IssuedToken {
  value: string;
  /** Lifetime from the moment it was issued, as the issuer said. */
  expiresInMs: number;
}

/**
 * An OAuth access token kept until `marginMs` before it expires. Concurrent callers share one
 * fetch, so a burst of sends after expiry makes one token request, not hundreds.
 */
export class AccessTokenCache {
  private cached: { value: string; refreshAt: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly fetchToken: (signal: AbortSignal) => Promise<IssuedToken>,
    private readonly clock: Clock,
    private readonly marginMs = 60_000,
  ) {}

  async get(signal: AbortSignal): Promise<string> {
    if (this.cached !== undefined && this.clock.now() < this.cached.refreshAt) return this.cached.value;
    this.pending ??= this.refresh(signal).finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets the token, e.g. after the vendor said it expired early or was revoked. */
  invalidate(rejected?: string): void {
    if (rejected === undefined || this.cached?.value === rejected) this.cached = undefined;
  }

  private async refresh(signal: AbortSignal): Promise<string> {
    const issuedAt = this.clock.now();
    const token = await this.fetchToken(signal);
    this.cached = { value: token.value, refreshAt: issuedAt + Math.max(0, token.expiresInMs - this.marginMs) };
    return token.value;
  }
}
