import { z } from 'zod';
import { loadConfig, setting, type ConfigOf } from '../setting';
import { clickComplete, clickSettings, databaseSettings, kafkaSettings, logSettings, saslComplete } from '../shared';
import { bool, milliseconds, origins, port, positiveInt } from '../types';

/**
 * The largest frame a valid client request makes: a `read` of 500 ids (the contract's limit), each a
 * quoted UUID and a comma, with the event's framing. A smaller frame limit would drop the connection.
 */
export const LARGEST_CLIENT_REQUEST = 500 * 39 + 256;

/**
 * Below this, a JWT secret still works but the gateway warns at start: RFC 7518 §3.2 wants a key of
 * at least 256 bits for HS256, and every user holds a token to guess a short one against offline.
 * The minimum stays 16 characters so that an installation with such a secret still starts after an upgrade.
 */
export const JWT_SECRET_ADVISED_LENGTH = 32;

/** The longest clock tolerance of browser tokens (`JWT_CLOCK_TOLERANCE_MS`): past it, a clock is wrong, not behind. */
export const MAX_JWT_CLOCK_TOLERANCE_MS = 300_000;

/** The longest acknowledgement timeout (`GATEWAY_ACK_TIMEOUT_MS`). */
export const MAX_ACK_TIMEOUT_MS = 600_000;

/**
 * The longest socket.io-client waits between two attempts to reconnect (`reconnectionDelayMax`, its
 * default, which the browser module sets explicitly): every browser of a gateway that went away is
 * back within it, once a gateway listens.
 */
export const BROWSER_RECONNECTION_DELAY_MAX_MS = 5_000;

/** What a claim's lease leaves at least, past an emit's longest wait, to record its outcome (the grace's own floor). */
export const LEAST_OUTCOME_TIME_MS = 1_000;

/**
 * The longest reconnect window (`GATEWAY_RECONNECT_WINDOW_MS`) the lease of a claim allows. An emit
 * waits at most the longer of the acknowledgement timeout and the window before it goes (held until
 * the cluster settles or the browsers can have reconnected, or, answered `offline`, until it goes
 * once more), then the acknowledgement timeout for its answer; the lease is twice the timeout plus
 * the grace (`claimLeaseMs`), and a second of it must be left to record the outcome.
 */
export function longestReconnectWindowMs({ ackTimeoutMs, outcomeGraceMs }: { ackTimeoutMs: number; outcomeGraceMs: number }): number {
  return ackTimeoutMs + outcomeGraceMs - LEAST_OUTCOME_TIME_MS;
}

export const realtimeGatewaySettings = {
  ...kafkaSettings,
  ...databaseSettings,
  ...logSettings,
  ...clickSettings,
  httpPort: setting('GATEWAY_PORT', port(3000), 'HTTP and Socket.IO port of the realtime gateway'),
  // A secret shorter than JWT_SECRET_ADVISED_LENGTH gets a warning at start.
  jwtSecret: setting(
    'JWT_SECRET',
    z.string().min(16, 'at least 16 characters').optional(),
    `HS256 secret that signs browser tokens: at least 16 characters, ${JWT_SECRET_ADVISED_LENGTH} or more advised (a shorter one gets a warning at start)`,
    { sensitive: true },
  ),
  // Sensitive although public: the value that fails is likely the private key, pasted by mistake.
  // SPKI (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`, as `openssl rsa -RSAPublicKey_out` writes it).
  jwtPublicKey: setting(
    'JWT_PUBLIC_KEY',
    z.string().regex(/-----BEGIN (RSA )?PUBLIC KEY-----/, 'a PEM public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)').optional(),
    'PEM public key that checks RS256 browser tokens (with `JWT_SECRET` too, HS256 tokens are still taken)',
    { sensitive: true },
  ),
  // Without them any token the key signed is taken: with an identity provider's key shared by other
  // apps, a token it issued to any of them opened its subject's inbox.
  jwtAudience: setting('JWT_AUDIENCE', z.string().min(1).optional(), 'When set, a browser token must name it in `aud` (the key may sign tokens for other apps)'),
  jwtIssuer: setting('JWT_ISSUER', z.string().min(1).optional(), 'When set, a browser token must name it in `iss`'),
  // Identity providers sign with `nbf` = now (jjwt, PyJWT, Spring): without a tolerance, a gateway whose
  // clock ran a second behind refused every fresh token, and socket.io-client does not retry a refusal.
  jwtClockToleranceMs: setting(
    'JWT_CLOCK_TOLERANCE_MS',
    z.coerce
      .number()
      .int()
      .min(0)
      .max(MAX_JWT_CLOCK_TOLERANCE_MS, `at most ${MAX_JWT_CLOCK_TOLERANCE_MS} (5 minutes)`)
      .refine((ms) => ms === 0 || ms >= 1_000, '0 (none) or at least 1000 ms (a value in seconds?)')
      .default(30_000),
    'How far apart the clocks of the token issuer and the gateway may be: a browser token is taken this long before its `nbf` and after its `exp`, and its socket disconnected this long after `exp` (0 for none, else at least a second, at most 5 minutes)',
  ),
  allowedOrigins: setting('GATEWAY_ALLOWED_ORIGINS', origins(''), 'Origins allowed to open a Socket.IO connection; empty allows any (with a warning at start)'),
  // At most 10 minutes: a relayed acknowledgement's timer waits a second longer than this, and a claim's
  // lease twice as long, both within a timer's reach; a browser silent that long is long past its fallback.
  // At least a second: no browser answers within a few milliseconds, and every delivery failed with ack_timeout.
  ackTimeoutMs: setting(
    'GATEWAY_ACK_TIMEOUT_MS',
    milliseconds(1_000).max(MAX_ACK_TIMEOUT_MS, `at most ${MAX_ACK_TIMEOUT_MS} (10 minutes)`).default(10_000),
    'How long a client has to acknowledge a message (at least a second, at most 10 minutes)',
  ),
  // At least a second: a shorter grace takes deliveries whose outcome is on its way for lost, and sends them again.
  outcomeGraceMs: setting(
    'GATEWAY_OUTCOME_GRACE_MS',
    milliseconds(1_000).default(60_000),
    'How long past twice the acknowledgement timeout (a wait for the cluster to settle, then one for the acknowledgement) a claimed delivery waits for its outcome before the resend poller takes it for lost (at least a second)',
  ),
  // socket.io-client's longest wait between reconnections (5 s, which the browser module sets) plus a
  // margin for the handshake: a browser of a gateway that went away is back by then. 0 turns it off.
  reconnectWindowMs: setting(
    'GATEWAY_RECONNECT_WINDOW_MS',
    z.coerce
      .number()
      .int()
      .min(0)
      .max(MAX_ACK_TIMEOUT_MS, `at most ${MAX_ACK_TIMEOUT_MS} (10 minutes)`)
      .refine((ms) => ms === 0 || ms >= 1_000, '0 (off) or at least 1000 ms (a value in seconds?)')
      .default(BROWSER_RECONNECTION_DELAY_MAX_MS + 2_000),
    `How long the browsers get to reconnect: emits wait until the gateway has listened this long, and a user found offline while a gateway of the cluster left (or this one started) this recently is tried once more at its end (0 turns it off; at least the browsers' reconnection delay, ${BROWSER_RECONNECTION_DELAY_MAX_MS} ms, plus a margin)`,
  ),
  // Without a bound, a broadcast consumed faster than browsers answered held every emit (its message,
  // its acknowledgement's timer, the cluster adapter's NOTIFY waiting for a connection) in memory.
  maxEmitsInFlight: setting(
    'GATEWAY_MAX_EMITS_IN_FLIGHT',
    positiveInt(20_000),
    'Emits to browsers whose acknowledgement (or its timeout) has not come or not been recorded yet, at most, before the gateway consumes the next jobs: bounds its memory under a large broadcast',
  ),
  maxHttpBufferSize: setting('GATEWAY_MAX_HTTP_BUFFER_SIZE', positiveInt(32 * 1024), `Largest client frame, in bytes (at least ${LARGEST_CLIENT_REQUEST}: a \`read\` of 500 ids)`),
  consumerGroup: setting('GATEWAY_GROUP', z.string().min(1).default('notify.realtime-gateway'), 'Kafka consumer group of the gateways'),
  deliveryConsumer: setting('GATEWAY_DELIVERY_CONSUMER', bool(true), 'Consume notify.deliver.websocket here; false for an edge gateway that only holds connections'),
  clusterAdapter: setting('GATEWAY_CLUSTER_ADAPTER', z.enum(['postgres', 'none']).default('postgres'), 'How gateways share rooms and acknowledgements: the Socket.IO PostgreSQL adapter, or none for a single gateway'),
  demoPage: setting('GATEWAY_DEMO_PAGE', bool(true), 'Serve the demo inbox page at /demo'),
};
export type RealtimeGatewayConfig = ConfigOf<typeof realtimeGatewaySettings>;

/** A Node.js process warning on stderr: the app's logger does not exist yet when the configuration loads. */
const processWarning = (message: string): void => process.emitWarning(message, { code: 'NOTIFY_CONFIG' });

/** Loads the gateway's settings; `warn` receives what is allowed but unwise (never a secret's value). */
export function loadRealtimeGatewayConfig(env: NodeJS.ProcessEnv = process.env, warn: (message: string) => void = processWarning): RealtimeGatewayConfig {
  const config = loadConfig('realtime-gateway', realtimeGatewaySettings, env, [
    saslComplete,
    clickComplete,
    (_config, raw) => (raw.JWT_SECRET || raw.JWT_PUBLIC_KEY ? [] : ['JWT_SECRET or JWT_PUBLIC_KEY is required']),
    (config) =>
      config.maxHttpBufferSize === undefined || config.maxHttpBufferSize >= LARGEST_CLIENT_REQUEST
        ? []
        : [`GATEWAY_MAX_HTTP_BUFFER_SIZE must be at least ${LARGEST_CLIENT_REQUEST}: a read of 500 ids would not fit`],
    // A held emit must still fit its claim's lease: past it, the resend poller took it for lost and sent it again.
    // Only a window set is refused; the default is shortened to fit (below).
    (config, raw) =>
      !raw.GATEWAY_RECONNECT_WINDOW_MS ||
      config.reconnectWindowMs === undefined ||
      config.ackTimeoutMs === undefined ||
      config.outcomeGraceMs === undefined ||
      config.reconnectWindowMs <= longestReconnectWindowMs(config)
        ? []
        : [
            `GATEWAY_RECONNECT_WINDOW_MS must be at most GATEWAY_ACK_TIMEOUT_MS + GATEWAY_OUTCOME_GRACE_MS - ${LEAST_OUTCOME_TIME_MS} (${longestReconnectWindowMs(config)}): ` +
              'an emit held that long, then waiting for its acknowledgement, would outlast the lease of its claim (2 x GATEWAY_ACK_TIMEOUT_MS + GATEWAY_OUTCOME_GRACE_MS) ' +
              'and be sent again by the resend poller; shorten the window or lengthen GATEWAY_OUTCOME_GRACE_MS',
          ],
    // An edge gateway holds connections for the others' emits: alone, nothing would ever reach its clients live.
    (config) =>
      config.deliveryConsumer || config.clusterAdapter === 'postgres'
        ? []
        : ['GATEWAY_DELIVERY_CONSUMER=false needs GATEWAY_CLUSTER_ADAPTER=postgres: without the cluster no message would reach its connections'],
  ]);
  if (config.jwtSecret !== undefined && config.jwtSecret.length < JWT_SECRET_ADVISED_LENGTH) {
    warn(
      `JWT_SECRET is shorter than ${JWT_SECRET_ADVISED_LENGTH} characters: anyone with a browser token can try to guess it offline; ` +
        'use a longer random secret (e.g. openssl rand -hex 32)',
    );
  }
  const reconnectWindowMs = fittedReconnectWindow(config, warn);
  if (config.allowedOrigins.length === 0) {
    warn(
      'GATEWAY_ALLOWED_ORIGINS is empty: a page on any web site may open a Socket.IO connection with a token it holds; ' +
        'list the origins of the web apps that connect (e.g. https://app.example.com)',
    );
  }
  return reconnectWindowMs === config.reconnectWindowMs ? config : { ...config, reconnectWindowMs };
}

/**
 * The reconnect window: the one set (refused above when it does not fit the lease), or the default,
 * shortened to the longest the lease allows. An installation with a short acknowledgement timeout and
 * grace, from before the window, starts as before rather than be refused after an upgrade.
 */
function fittedReconnectWindow(config: RealtimeGatewayConfig, warn: (message: string) => void): number {
  const longest = longestReconnectWindowMs(config);
  if (config.reconnectWindowMs <= longest) return config.reconnectWindowMs;
  warn(
    `GATEWAY_RECONNECT_WINDOW_MS is not set and its default (${config.reconnectWindowMs} ms) does not fit the lease of a claim ` +
      `(GATEWAY_ACK_TIMEOUT_MS + GATEWAY_OUTCOME_GRACE_MS - ${LEAST_OUTCOME_TIME_MS}): the window is ${longest} ms; ` +
      `browsers reconnect within ${BROWSER_RECONNECTION_DELAY_MAX_MS} ms, so lengthen GATEWAY_OUTCOME_GRACE_MS for a full one`,
  );
  return longest;
}
