import { z } from 'zod';
import { loadConfig, setting, type ConfigOf } from '../setting';
import { clickComplete, clickSettings, databaseSettings, kafkaSettings, logSettings, saslComplete } from '../shared';
import { bool, origins, port, positiveInt, timerMs } from '../types';

/**
 * The largest frame a valid client request makes: a `read` of 500 ids (the contract's limit), each a
 * quoted UUID and a comma, with the event's framing. A smaller frame limit would drop the connection.
 */
export const LARGEST_CLIENT_REQUEST = 500 * 39 + 256;

export const realtimeGatewaySettings = {
  ...kafkaSettings,
  ...databaseSettings,
  ...logSettings,
  ...clickSettings,
  httpPort: setting('GATEWAY_PORT', port(3000), 'HTTP and Socket.IO port of the realtime gateway'),
  jwtSecret: setting('JWT_SECRET', z.string().min(16, 'at least 16 characters').optional(), 'HS256 secret that signs browser tokens', { sensitive: true }),
  // Sensitive although public: the value that fails is likely the private key, pasted by mistake.
  jwtPublicKey: setting('JWT_PUBLIC_KEY', z.string().includes('BEGIN PUBLIC KEY').optional(), 'PEM public key that checks RS256 browser tokens (with `JWT_SECRET` too, HS256 tokens are still taken)', { sensitive: true }),
  allowedOrigins: setting('GATEWAY_ALLOWED_ORIGINS', origins(''), 'Origins allowed to open a Socket.IO connection; empty allows any'),
  ackTimeoutMs: setting('GATEWAY_ACK_TIMEOUT_MS', timerMs(10_000), 'How long a client has to acknowledge a message'),
  outcomeGraceMs: setting(
    'GATEWAY_OUTCOME_GRACE_MS',
    positiveInt(60_000),
    'How long past the acknowledgement timeout a claimed delivery waits for its outcome before the resend poller takes it for lost',
  ),
  maxHttpBufferSize: setting('GATEWAY_MAX_HTTP_BUFFER_SIZE', positiveInt(32 * 1024), `Largest client frame, in bytes (at least ${LARGEST_CLIENT_REQUEST}: a \`read\` of 500 ids)`),
  consumerGroup: setting('GATEWAY_GROUP', z.string().min(1).default('notify.realtime-gateway'), 'Kafka consumer group of the gateways'),
  deliveryConsumer: setting('GATEWAY_DELIVERY_CONSUMER', bool(true), 'Consume notify.deliver.websocket here; false for an edge gateway that only holds connections'),
  clusterAdapter: setting('GATEWAY_CLUSTER_ADAPTER', z.enum(['postgres', 'none']).default('postgres'), 'How gateways share rooms and acknowledgements: the Socket.IO PostgreSQL adapter, or none for a single gateway'),
  demoPage: setting('GATEWAY_DEMO_PAGE', bool(true), 'Serve the demo inbox page at /demo'),
};
export type RealtimeGatewayConfig = ConfigOf<typeof realtimeGatewaySettings>;

export function loadRealtimeGatewayConfig(env: NodeJS.ProcessEnv = process.env): RealtimeGatewayConfig {
  return loadConfig('realtime-gateway', realtimeGatewaySettings, env, [
    saslComplete,
    clickComplete,
    (_config, raw) => (raw.JWT_SECRET || raw.JWT_PUBLIC_KEY ? [] : ['JWT_SECRET or JWT_PUBLIC_KEY is required']),
    (config) =>
      config.maxHttpBufferSize === undefined || config.maxHttpBufferSize >= LARGEST_CLIENT_REQUEST
        ? []
        : [`GATEWAY_MAX_HTTP_BUFFER_SIZE must be at least ${LARGEST_CLIENT_REQUEST}: a read of 500 ids would not fit`],
  ]);
}
