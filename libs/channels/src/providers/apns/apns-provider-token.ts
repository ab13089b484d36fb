import { createPrivateKey, type KeyObject } from 'node:crypto';
import { ProviderError, ProviderErrorCode, signJwt, type Clock } from '../../ports';

/** The ES256 provider token, signed once and reused until `refreshAfterMs` has passed. */
export class ApnsProviderToken {
  private readonly key: KeyObject;
  private current: { jwt: string; issuedAt: number } | undefined;

  constructor(
    signingKey: string,
    private readonly teamId: string,
    private readonly keyId: string,
    private readonly refreshAfterMs: number,
    private readonly clock: Clock,
  ) {
    this.key = loadKey(signingKey);
  }

  get(): string {
    const now = this.clock.now();
    if (this.current === undefined || now - this.current.issuedAt >= this.refreshAfterMs) {
      const jwt = signJwt('ES256', this.key, { kid: this.keyId }, { iss: this.teamId, iat: Math.floor(now / 1000) });
      this.current = { jwt, issuedAt: now };
    }
    return this.current.jwt;
  }

  /** Drops the token APNs called expired, unless another call has already replaced it. */
  invalidate(jwt: string): void {
    if (this.current?.jwt === jwt) this.current = undefined;
  }
}

function loadKey(pem: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'ec') throw new Error(`expected an EC (P-256) key, got ${key.asymmetricKeyType ?? 'unknown'}`);
    return key;
  } catch (error) {
    // The reason only; the key text never goes into an error.
    throw new ProviderError({
      provider: 'apns',
      code: ProviderErrorCode.BadCredentials,
      message: `signing key is not a usable .p8 key: ${error instanceof Error ? error.message : 'unreadable'}`,
    });
  }
}
