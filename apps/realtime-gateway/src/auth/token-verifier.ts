import jwt from 'jsonwebtoken';

export interface VerifiedToken {
  userId: string;
  /** Expiry, in milliseconds since the epoch. */
  expiresAt: number;
}

export class TokenRejected extends Error {
  readonly code = 'unauthenticated';
}

/** Checks browser tokens: HS256 with a shared secret, or RS256 with a public key; `sub` and `exp` are required. */
export class TokenVerifier {
  private readonly key: string;
  private readonly algorithm: 'HS256' | 'RS256';

  constructor(settings: { jwtSecret?: string | undefined; jwtPublicKey?: string | undefined }) {
    if (settings.jwtPublicKey) {
      this.key = settings.jwtPublicKey;
      this.algorithm = 'RS256';
    } else if (settings.jwtSecret) {
      this.key = settings.jwtSecret;
      this.algorithm = 'HS256';
    } else {
      throw new Error('JWT_SECRET or JWT_PUBLIC_KEY is required');
    }
  }

  verify(token: unknown): VerifiedToken {
    if (typeof token !== 'string' || token.length === 0) throw new TokenRejected('a token is required');
    let payload: string | jwt.JwtPayload;
    try {
      payload = jwt.verify(token, this.key, { algorithms: [this.algorithm] });
    } catch (error) {
      throw new TokenRejected(error instanceof jwt.TokenExpiredError ? 'token expired' : 'invalid token');
    }
    if (typeof payload === 'string' || typeof payload.sub !== 'string' || payload.sub.length === 0) {
      throw new TokenRejected('token has no subject');
    }
    if (typeof payload.exp !== 'number') throw new TokenRejected('token has no expiry');
    return { userId: payload.sub, expiresAt: payload.exp * 1000 };
  }
}
