import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { loadRealtimeGatewayConfig } from '@notify/config';
import { ErrorCode } from '@notify/contracts';
import jwt from 'jsonwebtoken';
import { TokenRejected, TokenVerifier } from './token-verifier';

const SECRET = 'a-test-secret-of-at-least-32-chars';
const nowSeconds = () => Math.floor(Date.now() / 1000);

function rsaKeyPair(): { publicKey: string; privateKey: string } {
  return generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Runs a verification expected to fail and returns its TokenRejected. */
function rejection(verify: () => unknown): TokenRejected {
  try {
    verify();
  } catch (error) {
    if (error instanceof TokenRejected) return error;
    throw error;
  }
  throw new Error('expected TokenRejected, but the token was accepted');
}

describe('TokenVerifier', () => {
  describe('constructor', () => {
    it('throws without a secret or a public key', () => {
      expect(() => new TokenVerifier({})).toThrow('JWT_SECRET or JWT_PUBLIC_KEY is required');
    });

    it('throws when both are empty strings', () => {
      expect(() => new TokenVerifier({ jwtSecret: '', jwtPublicKey: '' })).toThrow('JWT_SECRET or JWT_PUBLIC_KEY is required');
    });

    it('throws at start on a public key that is not one, instead of refusing every token', () => {
      expect(() => new TokenVerifier({ jwtPublicKey: '-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----' })).toThrow('JWT_PUBLIC_KEY is not a PEM public key');
      const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
      expect(() => new TokenVerifier({ jwtPublicKey: ec.publicKey })).toThrow('JWT_PUBLIC_KEY must be an RSA key for RS256, not ec');
    });
  });

  describe('audience and issuer', () => {
    const verifier = new TokenVerifier({ jwtSecret: SECRET, jwtAudience: 'notify-inbox', jwtIssuer: 'https://id.example.com' });
    const token = (claims: object) => jwt.sign({ sub: 'u-42', exp: nowSeconds() + 600, ...claims }, SECRET, { algorithm: 'HS256' });

    it('takes a token that names the configured audience and issuer', () => {
      expect(verifier.verify(token({ aud: 'notify-inbox', iss: 'https://id.example.com' })).userId).toBe('u-42');
      expect(verifier.verify(token({ aud: ['billing', 'notify-inbox'], iss: 'https://id.example.com' })).userId).toBe('u-42');
    });

    it.each([
      ['no audience', { iss: 'https://id.example.com' }],
      ["another app's audience", { aud: 'billing', iss: 'https://id.example.com' }],
      ['no issuer', { aud: 'notify-inbox' }],
      ['another issuer', { aud: 'notify-inbox', iss: 'https://evil.example.com' }],
    ])('refuses a token with %s when they are configured', (_case, claims) => {
      expect(rejection(() => verifier.verify(token(claims))).message).toBe('invalid token');
    });

    it('takes any audience and issuer when none is configured', () => {
      expect(new TokenVerifier({ jwtSecret: SECRET }).verify(token({ aud: 'billing', iss: 'anyone' })).userId).toBe('u-42');
    });
  });

  describe('clock tolerance (JWT_CLOCK_TOLERANCE_MS)', () => {
    // As the gateway starts by default: the issuer's clock and this one may be 30 s apart.
    const config = loadRealtimeGatewayConfig({ JWT_SECRET: SECRET, GATEWAY_ALLOWED_ORIGINS: 'https://app.example.com' }, () => undefined);
    const verifier = new TokenVerifier(config);
    const token = (claims: object) => jwt.sign({ sub: 'u-42', exp: nowSeconds() + 600, ...claims }, SECRET, { algorithm: 'HS256' });

    it('takes a token whose nbf is a few seconds ahead: its issuer signed it with nbf = now on a clock ahead of this one', () => {
      expect(config.jwtClockToleranceMs).toBe(30_000);
      expect(verifier.verify(token({ nbf: nowSeconds() + 5 })).userId).toBe('u-42');
    });

    it('refuses a token whose nbf is further ahead, telling it apart from an invalid one', () => {
      const error = rejection(() => verifier.verify(token({ nbf: nowSeconds() + 600 })));
      expect(error.message).toBe('token not yet valid');
      expect(error.code).toBe(ErrorCode.Unauthenticated);
    });

    it('takes a token expired a few seconds ago, and does not take it for expired before the tolerance is over', () => {
      const exp = nowSeconds() - 5;
      const verified = verifier.verify(token({ exp }));
      expect(verified.userId).toBe('u-42');
      // The socket is disconnected then: at its exp, it was disconnected as soon as it connected.
      expect(verified.expiresAt).toBe(exp * 1000 + 30_000);
      expect(verified.expiresAt).toBeGreaterThan(Date.now());
    });

    it('refuses a token expired longer ago than the tolerance', () => {
      expect(rejection(() => verifier.verify(token({ exp: nowSeconds() - 600 }))).message).toBe('token expired');
    });

    it('allows no difference when it is 0', () => {
      const strict = new TokenVerifier({ jwtSecret: SECRET, jwtClockToleranceMs: 0 });
      expect(rejection(() => strict.verify(token({ nbf: nowSeconds() + 5 }))).message).toBe('token not yet valid');
      expect(rejection(() => strict.verify(token({ exp: nowSeconds() - 5 }))).message).toBe('token expired');
    });
  });

  describe('HS256', () => {
    const verifier = new TokenVerifier({ jwtSecret: SECRET });

    it('returns the user id and the expiry in milliseconds of a valid token', () => {
      const exp = nowSeconds() + 600;
      const token = jwt.sign({ sub: 'u-42', exp }, SECRET, { algorithm: 'HS256' });
      expect(verifier.verify(token)).toEqual({ userId: 'u-42', expiresAt: exp * 1000 });
    });

    it('accepts a token signed with expiresIn', () => {
      const token = jwt.sign({}, SECRET, { algorithm: 'HS256', subject: 'u-7', expiresIn: 60 });
      const verified = verifier.verify(token);
      expect(verified.userId).toBe('u-7');
      expect(verified.expiresAt).toBe((jwt.decode(token) as jwt.JwtPayload).exp! * 1000);
    });

    it.each([
      ['undefined', undefined],
      ['null', null],
      ['an empty string', ''],
      ['a number', 42],
      ['an object', { token: 'x' }],
    ])('rejects a missing token (%s)', (_case, token) => {
      const error = rejection(() => verifier.verify(token));
      expect(error.code).toBe(ErrorCode.Unauthenticated);
      expect(error.message).toBe('a token is required');
    });

    it('rejects a string that is not a JWT', () => {
      expect(rejection(() => verifier.verify('not.a.jwt')).message).toBe('invalid token');
    });

    it('rejects a token signed with another secret', () => {
      const token = jwt.sign({ sub: 'u-42' }, 'another-secret-of-at-least-32-chars', { algorithm: 'HS256', expiresIn: 600 });
      expect(rejection(() => verifier.verify(token)).message).toBe('invalid token');
    });

    it('rejects a token whose payload was changed after signing', () => {
      const token = jwt.sign({ sub: 'u-42' }, SECRET, { algorithm: 'HS256', expiresIn: 600 });
      const [header, , signature] = token.split('.');
      const forged = `${header}.${base64url({ sub: 'admin', exp: nowSeconds() + 600 })}.${signature}`;
      expect(rejection(() => verifier.verify(forged)).message).toBe('invalid token');
    });

    it('rejects an expired token', () => {
      const token = jwt.sign({ sub: 'u-42', exp: nowSeconds() - 60 }, SECRET, { algorithm: 'HS256' });
      const error = rejection(() => verifier.verify(token));
      expect(error.message).toBe('token expired');
      expect(error.code).toBe(ErrorCode.Unauthenticated);
    });

    it('rejects a token without exp', () => {
      const token = jwt.sign({ sub: 'u-42' }, SECRET, { algorithm: 'HS256', noTimestamp: true });
      expect((jwt.decode(token) as jwt.JwtPayload).exp).toBeUndefined();
      expect(rejection(() => verifier.verify(token)).message).toBe('token has no expiry');
    });

    it('rejects a token without sub', () => {
      const token = jwt.sign({ name: 'someone' }, SECRET, { algorithm: 'HS256', expiresIn: 600 });
      expect(rejection(() => verifier.verify(token)).message).toBe('token has no subject');
    });

    it('rejects a token with an empty sub', () => {
      const token = jwt.sign({ sub: '' }, SECRET, { algorithm: 'HS256', expiresIn: 600 });
      expect(rejection(() => verifier.verify(token)).message).toBe('token has no subject');
    });

    it.each([
      ['longer than a user id may be', 'u'.repeat(129)],
      ['holding U+0000', 'u-1\u0000'],
      ['holding an unpaired surrogate', 'u-\ud800'],
    ])('rejects a token whose sub is %s, which no sync or read could store', (_case, sub) => {
      const token = jwt.sign({ sub }, SECRET, { algorithm: 'HS256', expiresIn: 600 });
      expect(rejection(() => verifier.verify(token)).message).toBe('token subject is not a valid user id');
    });

    it('accepts a sub of the longest user id', () => {
      const token = jwt.sign({ sub: 'u'.repeat(128) }, SECRET, { algorithm: 'HS256', expiresIn: 600 });
      expect(verifier.verify(token).userId).toBe('u'.repeat(128));
    });

    it('rejects an unsigned token (alg none)', () => {
      const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'u-42', exp: nowSeconds() + 600 })}.`;
      expect(rejection(() => verifier.verify(token)).message).toBe('invalid token');
    });

    it('rejects an RS256 token', () => {
      const { privateKey } = rsaKeyPair();
      const token = jwt.sign({ sub: 'u-42' }, privateKey, { algorithm: 'RS256', expiresIn: 600 });
      expect(rejection(() => verifier.verify(token)).message).toBe('invalid token');
    });
  });

  describe('RS256', () => {
    const keys = rsaKeyPair();
    const verifier = new TokenVerifier({ jwtPublicKey: keys.publicKey });

    it('returns the user id and the expiry in milliseconds of a valid token', () => {
      const exp = nowSeconds() + 600;
      const token = jwt.sign({ sub: 'u-42', exp }, keys.privateKey, { algorithm: 'RS256' });
      expect(verifier.verify(token)).toEqual({ userId: 'u-42', expiresAt: exp * 1000 });
    });

    it('rejects a missing token', () => {
      expect(rejection(() => verifier.verify(undefined)).message).toBe('a token is required');
    });

    it('takes the public key in PKCS#1 form too (BEGIN RSA PUBLIC KEY)', () => {
      const pkcs1 = createPublicKey(keys.publicKey).export({ type: 'pkcs1', format: 'pem' }).toString();
      expect(loadRealtimeGatewayConfig({ JWT_PUBLIC_KEY: pkcs1 }).jwtPublicKey).toBe(pkcs1);
      const token = jwt.sign({ sub: 'u-42' }, keys.privateKey, { algorithm: 'RS256', expiresIn: 600 });
      expect(new TokenVerifier({ jwtPublicKey: pkcs1 }).verify(token).userId).toBe('u-42');
    });

    it('rejects a token signed with another private key', () => {
      const other = rsaKeyPair();
      const token = jwt.sign({ sub: 'u-42' }, other.privateKey, { algorithm: 'RS256', expiresIn: 600 });
      expect(rejection(() => verifier.verify(token)).message).toBe('invalid token');
    });

    it('rejects an expired token', () => {
      const token = jwt.sign({ sub: 'u-42', exp: nowSeconds() - 60 }, keys.privateKey, { algorithm: 'RS256' });
      expect(rejection(() => verifier.verify(token)).message).toBe('token expired');
    });

    it('rejects a token without exp', () => {
      const token = jwt.sign({ sub: 'u-42' }, keys.privateKey, { algorithm: 'RS256', noTimestamp: true });
      expect(rejection(() => verifier.verify(token)).message).toBe('token has no expiry');
    });

    it('rejects a token without sub', () => {
      const token = jwt.sign({ scope: 'inbox' }, keys.privateKey, { algorithm: 'RS256', expiresIn: 600 });
      expect(rejection(() => verifier.verify(token)).message).toBe('token has no subject');
    });

    it('rejects an HS256 token signed with the public key as secret (algorithm confusion)', () => {
      const token = jwt.sign({ sub: 'admin', exp: nowSeconds() + 600 }, keys.publicKey, { algorithm: 'HS256' });
      expect(jwt.decode(token, { complete: true })?.header.alg).toBe('HS256');
      const error = rejection(() => verifier.verify(token));
      expect(error.message).toBe('invalid token');
      expect(error.code).toBe(ErrorCode.Unauthenticated);
    });

    it('with a secret configured too, checks each token with the key of its own algorithm only', () => {
      const both = new TokenVerifier({ jwtSecret: SECRET, jwtPublicKey: keys.publicKey });
      const hs256 = jwt.sign({ sub: 'u-41' }, SECRET, { algorithm: 'HS256', expiresIn: 600 });
      const rs256 = jwt.sign({ sub: 'u-42' }, keys.privateKey, { algorithm: 'RS256', expiresIn: 600 });
      expect(both.verify(hs256).userId).toBe('u-41');
      expect(both.verify(rs256).userId).toBe('u-42');
      // The public key is never taken for a secret, nor the secret for another algorithm's key.
      const confused = jwt.sign({ sub: 'admin' }, keys.publicKey, { algorithm: 'HS256', expiresIn: 600 });
      expect(rejection(() => both.verify(confused)).message).toBe('invalid token');
      const hs512 = jwt.sign({ sub: 'admin' }, SECRET, { algorithm: 'HS512', expiresIn: 600 });
      expect(rejection(() => both.verify(hs512)).message).toBe('invalid token');
      const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'admin', exp: nowSeconds() + 600 })}.`;
      expect(rejection(() => both.verify(unsigned)).message).toBe('invalid token');
    });
  });
});
