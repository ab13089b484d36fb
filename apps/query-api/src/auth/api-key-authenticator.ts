import { timingSafeEqual } from 'node:crypto';
import { API_KEY_SCOPES, hashApiKey, type ApiKeyStore } from '@notify/persistence';
import type { Caller } from './caller';

export interface ApiKeyPolicy {
  /** Accepted with every scope when set (contract section 7). */
  bootstrapApiKey?: string;
  /** How long an accepted key is remembered before it is looked up again. */
  apiKeyCacheMs: number;
}

/** Enough for every service of a platform; past it the oldest entry makes room. */
const MAX_REMEMBERED = 1000;

/**
 * Turns an `x-api-key` into a caller. Accepted keys are remembered briefly so a busy client costs
 * one lookup per interval, not one per call; unknown keys are always looked up (and never
 * remembered, so a stream of made-up keys cannot fill memory).
 */
export class ApiKeyAuthenticator {
  private readonly bootstrapHash?: Buffer;
  private readonly remembered = new Map<string, { caller: Caller; until: number }>();

  constructor(
    private readonly store: Pick<ApiKeyStore, 'findActive'>,
    private readonly policy: ApiKeyPolicy,
    private readonly now: () => number = Date.now,
  ) {
    if (policy.bootstrapApiKey) this.bootstrapHash = Buffer.from(hashApiKey(policy.bootstrapApiKey), 'hex');
  }

  async authenticate(key: string): Promise<Caller | undefined> {
    const hash = hashApiKey(key);
    if (this.bootstrapHash && timingSafeEqual(Buffer.from(hash, 'hex'), this.bootstrapHash)) {
      return { keyName: 'bootstrap', scopes: API_KEY_SCOPES };
    }
    const known = this.remembered.get(hash);
    if (known && known.until > this.now()) return known.caller;
    this.remembered.delete(hash);
    const record = await this.store.findActive(key);
    if (!record) return undefined;
    const caller: Caller = { keyName: record.name, scopes: record.scopes };
    if (this.policy.apiKeyCacheMs > 0) {
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.delete(this.remembered.keys().next().value!);
      this.remembered.set(hash, { caller, until: this.now() + this.policy.apiKeyCacheMs });
    }
    return caller;
  }
}
