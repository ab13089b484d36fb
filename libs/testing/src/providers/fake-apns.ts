import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { constants, createServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { ScriptedReplies } from './fake-http-server';
import { verifyJwt } from './jwt-verifier';

export interface ApnsPush {
  token: string;
  headers: IncomingHttpHeaders;
  payload: unknown;
}

export interface ApnsFailure {
  status: number;
  reason: string;
  retryAfterSeconds?: number;
  /** Holds the answer back, e.g. to make the client time out. */
  delayMs?: number;
}

export interface FakeApnsOptions {
  latencyMs?: number;
  record?: boolean;
  /** The server's idea of now, for the one-hour age limit of provider tokens. */
  now?: () => number;
}

export interface FakeApns {
  url: string;
  teamId: string;
  keyId: string;
  /** The `.p8` key's PEM text (PKCS #8), what a team downloads from Apple. */
  signingKey: string;
  topic: string;
  pushes: ApnsPush[];
  /** Distinct provider tokens (JWTs) that were accepted, in order of first use. */
  providerTokens: string[];
  sessionsOpened: number;
  /** Answers 410 Unregistered for this device token from now on. */
  unregister(token: string): void;
  /** Answers 400 BadDeviceToken for this device token from now on. */
  markBad(token: string): void;
  failNext(failure: ApnsFailure, times?: number): void;
  /** Every provider token seen so far is answered 403 ExpiredProviderToken from now on. */
  expireProviderTokens(): void;
  /** Closes every open session with GOAWAY, as APNs does when it recycles connections; resolves once they are gone. */
  dropSessions(): Promise<void>;
  /** Resets the next `times` streams with REFUSED_STREAM before reading them, as a server going away does with those past its GOAWAY. */
  refuseNext(times?: number): void;
  /** Streams refused so far. */
  refused: number;
  /** HTTP/2 PING frames received so far (answered, as every server does). */
  pings: number;
  close(): Promise<void>;
}

interface ApnsAnswer {
  status: number;
  body?: unknown;
  apnsId?: string;
  retryAfterSeconds?: number;
  delayMs?: number;
}

const PUSH_TYPES = new Set(['alert', 'background', 'voip', 'complication', 'fileprovider', 'mdm', 'location', 'liveactivity', 'pushtotalk']);
const HOUR_SECONDS = 3600;
const MAX_PAYLOAD = 4096;

/** An HTTP/2 (cleartext) server in the shape of APNs' provider API, with token authentication. */
export async function startFakeApns(options: FakeApnsOptions = {}): Promise<FakeApns> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const teamId = randomBytes(5).toString('hex').toUpperCase();
  const keyId = randomBytes(5).toString('hex').toUpperCase();
  const topic = 'com.example.notify';
  const now = options.now ?? Date.now;
  const unregistered = new Map<string, number>();
  const bad = new Set<string>();
  const expired = new Set<string>();
  const seen = new Set<string>();
  const verified = new Map<string, number>();
  const failures = new ScriptedReplies<ApnsFailure>();
  const sessions = new Set<ServerHttp2Session>();
  let toRefuse = 0;
  const fake: FakeApns = {
    url: '',
    teamId,
    keyId,
    signingKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    topic,
    pushes: [],
    providerTokens: [],
    sessionsOpened: 0,
    unregister: (token) => unregistered.set(token, now()),
    markBad: (token) => bad.add(token),
    failNext: (failure, times) => failures.push(failure, times),
    expireProviderTokens: () => seen.forEach((jwt) => expired.add(jwt)),
    dropSessions: () =>
      Promise.all([...sessions].map((session) => new Promise<void>((resolve) => session.close(() => resolve())))).then(() => undefined),
    refuseNext: (times = 1) => {
      toRefuse += times;
    },
    refused: 0,
    pings: 0,
    close: () => Promise.resolve(),
  };

  const answer = (headers: IncomingHttpHeaders, body: string): ApnsAnswer => {
    const match = /^\/3\/device\/([^/]+)$/.exec(String(headers[':path']));
    if (headers[':method'] !== 'POST') return { status: 405, body: { reason: 'MethodNotAllowed' } };
    if (match === null) return { status: 404, body: { reason: 'BadPath' } };
    const authFailure = checkProviderToken(headers['authorization'], publicKey, teamId, keyId, now(), expired, verified);
    if (authFailure !== undefined) return { status: 403, body: { reason: authFailure } };
    const jwt = String(headers['authorization']).slice('bearer '.length);
    if (!seen.has(jwt)) {
      seen.add(jwt);
      fake.providerTokens.push(jwt);
    }
    const requestFailure = checkRequest(headers, body, topic);
    if (requestFailure !== undefined) return requestFailure;
    const token = match[1] as string;
    if (!/^[0-9a-f]{64}$/i.test(token) || bad.has(token)) return { status: 400, body: { reason: 'BadDeviceToken' } };
    const goneAt = unregistered.get(token);
    if (goneAt !== undefined) return { status: 410, body: { reason: 'Unregistered', timestamp: goneAt } };
    const failure = failures.take();
    if (failure !== undefined) return { status: failure.status, body: { reason: failure.reason }, retryAfterSeconds: failure.retryAfterSeconds, delayMs: failure.delayMs };
    if (options.record !== false) fake.pushes.push({ token, headers, payload: JSON.parse(body) as unknown });
    return { status: 200, apnsId: typeof headers['apns-id'] === 'string' ? headers['apns-id'] : randomUUID() };
  };

  const server = createServer({ settings: { maxConcurrentStreams: 1000 } });
  server.on('session', (session) => {
    fake.sessionsOpened += 1;
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('ping', () => void (fake.pings += 1));
    // A client resetting its session must not take the server down with an unhandled error.
    session.on('error', () => undefined);
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => undefined);
    if (toRefuse > 0) {
      toRefuse -= 1;
      fake.refused += 1;
      stream.close(constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    stream.on('end', () => {
      const result = answer(headers, body);
      const respond = (): void => {
        if (stream.destroyed || stream.closed) return;
        const responseHeaders: Record<string, string | number> = { ':status': result.status };
        if (result.apnsId !== undefined) responseHeaders['apns-id'] = result.apnsId;
        if (result.retryAfterSeconds !== undefined) responseHeaders['retry-after'] = String(result.retryAfterSeconds);
        if (result.body === undefined) {
          stream.respond(responseHeaders, { endStream: true });
          return;
        }
        stream.respond({ ...responseHeaders, 'content-type': 'application/json' });
        stream.end(JSON.stringify(result.body));
      };
      const delay = (options.latencyMs ?? 0) + (result.delayMs ?? 0);
      if (delay > 0) setTimeout(respond, delay).unref();
      else respond();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      sessions.forEach((session) => session.destroy());
      server.close(() => resolve());
    });
  return fake;
}

function checkProviderToken(
  authorization: string | string[] | undefined,
  publicKey: KeyObject,
  teamId: string,
  keyId: string,
  now: number,
  expired: Set<string>,
  verifiedTokens: Map<string, number>,
): string | undefined {
  if (typeof authorization !== 'string' || !authorization.startsWith('bearer ')) return 'MissingProviderToken';
  const jwt = authorization.slice('bearer '.length);
  // A token is verified once and remembered with its iat, as a provider reuses it for up to an hour.
  let iat = verifiedTokens.get(jwt);
  if (iat === undefined) {
    const verified = verifyJwt(jwt, 'ES256', publicKey);
    if (verified === null || verified.header['kid'] !== keyId || verified.claims['iss'] !== teamId) return 'InvalidProviderToken';
    if (typeof verified.claims['iat'] !== 'number') return 'InvalidProviderToken';
    iat = verified.claims['iat'];
    verifiedTokens.set(jwt, iat);
  }
  if (expired.has(jwt) || now / 1000 - iat > HOUR_SECONDS) return 'ExpiredProviderToken';
  return undefined;
}

function checkRequest(headers: IncomingHttpHeaders, body: string, topic: string): { status: number; body: { reason: string } } | undefined {
  const reject = (status: number, reason: string): { status: number; body: { reason: string } } => ({ status, body: { reason } });
  if (headers['apns-topic'] === undefined) return reject(400, 'MissingTopic');
  if (headers['apns-topic'] !== topic) return reject(400, 'TopicDisallowed');
  const pushType = headers['apns-push-type'];
  if (typeof pushType !== 'string' || !PUSH_TYPES.has(pushType)) return reject(400, 'InvalidPushType');
  const apnsId = headers['apns-id'];
  if (apnsId !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(String(apnsId))) return reject(400, 'BadMessageId');
  const priority = headers['apns-priority'];
  if (priority !== undefined && !['1', '5', '10'].includes(String(priority))) return reject(400, 'BadPriority');
  if (pushType === 'background' && priority === '10') return reject(400, 'BadPriority');
  const expiration = headers['apns-expiration'];
  if (expiration !== undefined && !/^[0-9]+$/.test(String(expiration))) return reject(400, 'BadExpirationDate');
  const collapseId = headers['apns-collapse-id'];
  if (collapseId !== undefined && Buffer.byteLength(String(collapseId)) > 64) return reject(400, 'BadCollapseId');
  if (body.length === 0) return reject(400, 'PayloadEmpty');
  if (Buffer.byteLength(body) > MAX_PAYLOAD) return reject(413, 'PayloadTooLarge');
  try {
    JSON.parse(body);
  } catch {
    return reject(400, 'PayloadEmpty');
  }
  return undefined;
}
