import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { ScriptedReplies, requestForm, requestJson, startFakeHttpServer, type FakeReply, type FakeRequest } from './fake-http-server';
import { verifyJwt } from './jwt-verifier';

/** Four weeks, the longest FCM keeps a message for an offline device. */
const FCM_MAX_TTL_SECONDS = 2_419_200;

export interface FcmSent {
  token: string;
  message: Record<string, unknown>;
}

export interface FcmFailure {
  status: number;
  /** `FcmError.errorCode`, e.g. `UNAVAILABLE`, `QUOTA_EXCEEDED`. */
  errorCode?: string;
  /** Google API status, e.g. `RESOURCE_EXHAUSTED`; derived from the HTTP status when absent. */
  apiStatus?: string;
  retryAfterSeconds?: number;
  delayMs?: number;
  /** The error's message; `scripted failure` when absent. */
  message?: string;
}

export interface FakeFcmOptions {
  latencyMs?: number;
  record?: boolean;
  now?: () => number;
  accessTokenLifetimeSeconds?: number;
}

export interface FakeFcm {
  url: string;
  tokenUrl: string;
  projectId: string;
  /** A service account key file pointing its `token_uri` at this server. */
  serviceAccountJson: string;
  messages: FcmSent[];
  /** Access tokens issued by the OAuth endpoint. */
  accessTokensIssued: number;
  unregister(token: string): void;
  /** Answers 400 INVALID_ARGUMENT for this token, as FCM documents an invalid registration token. */
  markInvalid(token: string): void;
  failNext(failure: FcmFailure, times?: number): void;
  /** Every access token issued so far is refused with 401 from now on. */
  revokeAccessTokens(): void;
  close(): Promise<void>;
}

const FCM_SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const API_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** FCM HTTP v1 `messages:send` and Google's OAuth2 token endpoint (JWT bearer grant, RS256). */
export async function startFakeFcm(options: FakeFcmOptions = {}): Promise<FakeFcm> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const projectId = 'notify-test';
  const clientEmail = `notify@${projectId}.iam.gserviceaccount.com`;
  const now = options.now ?? Date.now;
  const lifetime = options.accessTokenLifetimeSeconds ?? 3599;
  const accessTokens = new Map<string, number>();
  const revoked = new Set<string>();
  const unregistered = new Set<string>();
  const invalid = new Set<string>();
  const failures = new ScriptedReplies<FcmFailure>();
  let tokenUrl = '';

  const issueToken = (request: FakeRequest): FakeReply => {
    const form = requestForm(request);
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return oauthError('unsupported_grant_type', 'Invalid grant_type.');
    const verified = verifyJwt(form.get('assertion') ?? '', 'RS256', publicKey);
    if (verified === null) return oauthError('invalid_grant', 'Invalid JWT Signature.');
    const { iss, aud, scope, iat, exp } = verified.claims as { iss?: unknown; aud?: unknown; scope?: unknown; iat?: unknown; exp?: unknown };
    if (iss !== clientEmail || aud !== tokenUrl) return oauthError('invalid_grant', 'Invalid JWT: iss or aud.');
    if (typeof scope !== 'string' || !scope.split(' ').includes(FCM_SCOPE)) return oauthError('invalid_scope', 'Invalid OAuth scope.');
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > 3600 || exp * 1000 < now()) {
      return oauthError('invalid_grant', 'Invalid JWT: Token must be a short-lived token.');
    }
    const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
    accessTokens.set(accessToken, now() + lifetime * 1000);
    fake.accessTokensIssued += 1;
    return { status: 200, body: { access_token: accessToken, expires_in: lifetime, token_type: 'Bearer' } };
  };

  const send = (request: FakeRequest): FakeReply => {
    if (request.path !== `/v1/projects/${projectId}/messages:send`) return fcmError(404, 'NOT_FOUND', 'Requested entity was not found.');
    const bearer = /^Bearer (.+)$/.exec(String(request.headers['authorization'] ?? ''))?.[1];
    const expiresAt = bearer === undefined ? undefined : accessTokens.get(bearer);
    if (bearer === undefined || expiresAt === undefined || expiresAt < now() || revoked.has(bearer)) {
      return fcmError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token.');
    }
    const message = (requestJson(request) as { message?: Record<string, unknown> } | undefined)?.message;
    const token = message?.['token'];
    if (message === undefined || typeof token !== 'string') return fcmError(400, 'INVALID_ARGUMENT', 'Recipient of the message is not set.', 'INVALID_ARGUMENT');
    // As FCM's error-code documentation shows it: only the FcmError detail, and the message.
    if (invalid.has(token)) return fcmError(400, 'INVALID_ARGUMENT', 'The registration token is not a valid FCM registration token', 'INVALID_ARGUMENT');
    if (unregistered.has(token)) return fcmError(404, 'NOT_FOUND', 'Requested entity was not found.', 'UNREGISTERED');
    // FCM keeps a message at most four weeks and refuses a longer time to live.
    const ttl = /^(\d+)s$/.exec(String((message['android'] as { ttl?: unknown } | undefined)?.ttl ?? ''))?.[1];
    if (ttl !== undefined && Number(ttl) > FCM_MAX_TTL_SECONDS) return fcmError(400, 'INVALID_ARGUMENT', 'Invalid value at \'message.android.ttl\'', 'INVALID_ARGUMENT');
    const failure = failures.take();
    if (failure !== undefined) {
      const reply = fcmError(failure.status, failure.apiStatus ?? API_STATUS[failure.status] ?? 'UNKNOWN', failure.message ?? 'scripted failure', failure.errorCode);
      return {
        ...reply,
        ...(failure.retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(failure.retryAfterSeconds) } }),
        ...(failure.delayMs === undefined ? {} : { delayMs: failure.delayMs }),
      };
    }
    if (options.record !== false) fake.messages.push({ token, message });
    return { status: 200, body: { name: `projects/${projectId}/messages/0:${now()}%${randomBytes(8).toString('hex')}` } };
  };

  const server = await startFakeHttpServer((request) => (request.path === '/token' ? issueToken(request) : send(request)), options);
  tokenUrl = `${server.url}/token`;
  const fake: FakeFcm = {
    url: server.url,
    tokenUrl,
    projectId,
    serviceAccountJson: JSON.stringify({
      type: 'service_account',
      project_id: projectId,
      private_key_id: randomBytes(20).toString('hex'),
      private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      client_email: clientEmail,
      client_id: '100000000000000000000',
      token_uri: tokenUrl,
    }),
    messages: [],
    accessTokensIssued: 0,
    unregister: (token) => unregistered.add(token),
    markInvalid: (token) => invalid.add(token),
    failNext: (failure, times) => failures.push(failure, times),
    revokeAccessTokens: () => accessTokens.forEach((_expiry, token) => revoked.add(token)),
    close: () => server.close(),
  };
  return fake;
}

function oauthError(error: string, description: string): FakeReply {
  return { status: 400, body: { error, error_description: description } };
}

function fcmError(status: number, apiStatus: string, message: string, errorCode?: string, extraDetails: unknown[] = []): FakeReply {
  const details = [...(errorCode === undefined ? [] : [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode }]), ...extraDetails];
  return { status, body: { error: { code: status, message, status: apiStatus, ...(details.length === 0 ? {} : { details }) } } };
}
