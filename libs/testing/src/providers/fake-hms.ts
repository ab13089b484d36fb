import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { ScriptedReplies, requestForm, requestJson, startFakeHttpServer, type FakeReply, type FakeRequest } from './fake-http-server';

export interface HmsBatch {
  tokens: string[];
  message: Record<string, unknown>;
  /** The request id Push Kit answered with, which its receipts name. */
  requestId: string;
}

export interface HmsFailure {
  status: number;
  /** Absent for failures Push Kit answers without a result code (e.g. 503 flow control). */
  code?: string;
  msg: string;
}

export interface FakeHmsOptions {
  latencyMs?: number;
  record?: boolean;
  now?: () => number;
}

export interface FakeHms {
  url: string;
  tokenUrl: string;
  appId: string;
  appSecret: string;
  batches: HmsBatch[];
  accessTokensIssued: number;
  /** The token is reported in `illegal_tokens` from now on. */
  unregister(token: string): void;
  failNext(failure: HmsFailure, times?: number): void;
  /** Every access token issued so far is answered 80200003 (expired) from now on. */
  expireAccessTokens(): void;
  /** The callback user name and key of AppGallery Connect's receipt settings, which sign receipts. */
  receiptCallback: { userName: string; key: string };
  /**
   * The `X-HUAWEI-CALLBACK-ID` header of a receipt posted now: the base64 HMAC-SHA256, under the
   * callback key (or `signWith`), of the time in milliseconds, a fresh nonce and the user name.
   */
  receiptCallbackId(signWith?: string): string;
  close(): Promise<void>;
}

const MAX_TOKENS = 1000;

/** Huawei Push Kit: OAuth 2.0 client credentials endpoint and `POST /v1/<appId>/messages:send`. */
export async function startFakeHms(options: FakeHmsOptions = {}): Promise<FakeHms> {
  const appId = '104' + String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
  const appSecret = randomBytes(32).toString('hex');
  const receiptCallback = { userName: `receipts-${appId}`, key: randomBytes(24).toString('base64url') };
  const now = options.now ?? Date.now;
  const accessTokens = new Map<string, number>();
  const expired = new Set<string>();
  const unregistered = new Set<string>();
  const failures = new ScriptedReplies<HmsFailure>();

  const issueToken = (request: FakeRequest): FakeReply => {
    const form = requestForm(request);
    if (form.get('grant_type') !== 'client_credentials') return { status: 400, body: { error: 1102, error_description: 'unsupported grant_type', sub_error: 20003 } };
    if (form.get('client_id') !== appId || form.get('client_secret') !== appSecret) {
      return { status: 400, body: { error: 1101, error_description: 'invalid client', sub_error: 20109 } };
    }
    const accessToken = `CgB6e3x9${randomBytes(24).toString('base64url')}`;
    accessTokens.set(accessToken, now() + 3600_000);
    fake.accessTokensIssued += 1;
    return { status: 200, body: { access_token: accessToken, expires_in: 3600, token_type: 'Bearer' } };
  };

  const send = (request: FakeRequest): FakeReply => {
    const requestId = `${now()}${randomBytes(6).toString('hex')}`;
    const reply = (status: number, code: string | undefined, msg: string): FakeReply => ({ status, body: { code, msg, requestId } });
    if (request.path !== `/v1/${appId}/messages:send`) return { status: 404, body: 'not found' };
    const bearer = /^Bearer (.+)$/.exec(String(request.headers['authorization'] ?? ''))?.[1];
    const expiresAt = bearer === undefined ? undefined : accessTokens.get(bearer);
    if (bearer === undefined || expiresAt === undefined) return reply(401, '80200001', 'Oauth authentication error');
    if (expired.has(bearer) || expiresAt < now()) return reply(401, '80200003', 'Oauth Token expired.');
    const message = (requestJson(request) as { message?: Record<string, unknown> } | undefined)?.message;
    const tokens = message?.['token'];
    if (message === undefined || !Array.isArray(tokens) || tokens.length === 0) return reply(400, '80100003', 'Illegal message structure');
    if (tokens.length > MAX_TOKENS) return reply(400, '80300010', 'The number of tokens in the message body exceeds the default value');
    const failure = failures.take();
    if (failure !== undefined) return reply(failure.status, failure.code, failure.msg);
    const illegal = (tokens as string[]).filter((token) => unregistered.has(token));
    if (illegal.length === tokens.length) return reply(400, '80300007', 'All the tokens are invalid');
    if (options.record !== false) fake.batches.push({ tokens: (tokens as string[]).filter((token) => !unregistered.has(token)), message, requestId });
    if (illegal.length > 0) {
      return reply(200, '80100000', JSON.stringify({ success: tokens.length - illegal.length, failure: illegal.length, illegal_tokens: illegal }));
    }
    return reply(200, '80000000', 'Success');
  };

  const server = await startFakeHttpServer((request) => (request.path === '/oauth2/v3/token' ? issueToken(request) : send(request)), options);
  const fake: FakeHms = {
    url: server.url,
    tokenUrl: `${server.url}/oauth2/v3/token`,
    appId,
    appSecret,
    batches: [],
    accessTokensIssued: 0,
    unregister: (token) => unregistered.add(token),
    failNext: (failure, times) => failures.push(failure, times),
    expireAccessTokens: () => accessTokens.forEach((_expiry, token) => expired.add(token)),
    receiptCallback,
    receiptCallbackId: (signWith) => {
      const [timestamp, nonce] = [String(now()), randomUUID()];
      const value = createHmac('sha256', signWith ?? receiptCallback.key).update(timestamp + nonce + receiptCallback.userName).digest('base64');
      return `timestamp=${timestamp};nonce=${nonce};value=${value}`;
    },
    close: () => server.close(),
  };
  return fake;
}
