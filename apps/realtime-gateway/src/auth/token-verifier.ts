import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { UserIdSchema, unstorableValueProblem } from '@notify/contracts';

export interface VerifiedToken {
  userId: string;
  /**
   * When the gateway takes the token for expired, in milliseconds since the epoch: its `exp` plus the
   * clock tolerance, as the check itself allows. A token taken within the tolerance past its `exp`
   * was otherwise disconnected at once.
   */
  expiresAt: number;
}

export class TokenRejected extends Error {
  readonly code = 'unauthenticated';
}

/**
 * Checks browser tokens: HS256 with a shared secret, RS256 with a public key, or both when both are
 * set (a move from one to the other, while tokens of each are in use): each token is checked with
 * the key of the algorithm its header names, and only with that one. `sub` and `exp` are required,
 * and `aud` and `iss` when `JWT_AUDIENCE` and `JWT_ISSUER` are set. `nbf` and `exp` are checked with
 * the clock tolerance (`JWT_CLOCK_TOLERANCE_MS`): an issuer signs with `nbf` = now, and a gateway whose
 * clock ran behind it refused every fresh token.
 * Each key is made into a KeyObject once, at start: given a string, jsonwebtoken parses it as a PEM
 * public key on every verification and, for a secret, fails that first (about 0.4 ms per token
 * instead of 7 µs here, paid by every handshake). A public key that is not one stops the gateway at
 * start rather than refusing every token.
 */
export class TokenVerifier {
  private readonly keys = new Map<'HS256' | 'RS256', KeyObject>();
  /** The `aud` and `iss` a token must name, when configured. */
  private readonly claims: { audience?: string; issuer?: string };
  /** How far the issuer's clock and this one may be apart, in milliseconds (none when not given). */
  private readonly clockToleranceMs: number;

  constructor(settings: {
    jwtSecret?: string | undefined;
    jwtPublicKey?: string | undefined;
    jwtAudience?: string | undefined;
    jwtIssuer?: string | undefined;
    jwtClockToleranceMs?: number | undefined;
  }) {
    this.claims = { ...(settings.jwtAudience ? { audience: settings.jwtAudience } : {}), ...(settings.jwtIssuer ? { issuer: settings.jwtIssuer } : {}) };
    this.clockToleranceMs = settings.jwtClockToleranceMs ?? 0;
    if (settings.jwtPublicKey) this.keys.set('RS256', publicKeyOf(settings.jwtPublicKey));
    if (settings.jwtSecret) this.keys.set('HS256', createSecretKey(Buffer.from(settings.jwtSecret, 'utf8')));
    if (this.keys.size === 0) throw new Error('JWT_SECRET or JWT_PUBLIC_KEY is required');
  }

  verify(token: unknown): VerifiedToken {
    if (typeof token !== 'string' || token.length === 0) throw new TokenRejected('a token is required');
    let payload: string | jwt.JwtPayload;
    try {
      const algorithm = jwt.decode(token, { complete: true })?.header.alg;
      const key = algorithm === 'HS256' || algorithm === 'RS256' ? this.keys.get(algorithm) : undefined;
      if (!key) throw new Error('no key for the algorithm');
      // jsonwebtoken's tolerance is in seconds.
      payload = jwt.verify(token, key, { algorithms: [algorithm as 'HS256' | 'RS256'], clockTolerance: this.clockToleranceMs / 1000, ...this.claims });
    } catch (error) {
      throw new TokenRejected(rejectionOf(error));
    }
    if (typeof payload === 'string' || typeof payload.sub !== 'string' || payload.sub.length === 0) {
      throw new TokenRejected('token has no subject');
    }
    // A subject no user id can be (too long, or text PostgreSQL cannot store) failed every sync and
    // read as an internal error, which the client retries for ever.
    if (!UserIdSchema.safeParse(payload.sub).success || unstorableValueProblem(payload.sub) !== undefined) {
      throw new TokenRejected('token subject is not a valid user id');
    }
    if (typeof payload.exp !== 'number') throw new TokenRejected('token has no expiry');
    return { userId: payload.sub, expiresAt: payload.exp * 1000 + this.clockToleranceMs };
  }
}

/** What a client is told of a token jsonwebtoken refused: a token not valid yet is told apart, its issuer's clock being ahead. */
function rejectionOf(error: unknown): string {
  if (error instanceof jwt.TokenExpiredError) return 'token expired';
  if (error instanceof jwt.NotBeforeError) return 'token not yet valid';
  return 'invalid token';
}

function publicKeyOf(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new Error(`JWT_PUBLIC_KEY is not a PEM public key: ${(error as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw new Error(`JWT_PUBLIC_KEY must be an RSA key for RS256, not ${key.asymmetricKeyType}`);
  return key;
}
