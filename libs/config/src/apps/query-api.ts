import { z } from 'zod';
import { loadConfig, setting, type ConfigOf } from '../setting';
import { databaseSettings, logSettings } from '../shared';
import { port } from '../types';

export const queryApiSettings = {
  ...databaseSettings,
  ...logSettings,
  httpPort: setting('QUERY_API_HTTP_PORT', port(3001), 'HTTP port of the query API (health, metrics)'),
  grpcPort: setting('QUERY_API_GRPC_PORT', port(50051), 'gRPC port of the query API'),
  grpcHost: setting('QUERY_API_GRPC_HOST', z.string().min(1).default('0.0.0.0'), 'Address the gRPC server binds to'),
  // Any key a client can send (contract §7 sets no length; a short one gets a warning at start).
  bootstrapApiKey: setting(
    'BOOTSTRAP_API_KEY',
    z.string().regex(/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/, 'printable ASCII, no space at either end (what x-api-key metadata carries)').optional(),
    'An API key accepted with every scope (first start of a new installation)',
    { sensitive: true },
  ),
  databaseRole: setting(
    'QUERY_API_DATABASE_ROLE',
    z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a PostgreSQL role name: lower-case letters, digits and _').default('notify_query_api'),
    'PostgreSQL role the query API sets after connecting: it reads messages and writes only recipients (the migrations create it)',
  ),
  pageTokenSecret: setting(
    'QUERY_API_PAGE_TOKEN_SECRET',
    z.string().min(32, 'at least 32 characters').optional(),
    'Secret that signs ListMessages and ListDeliveries page tokens; give every instance the same one (unset: random per process)',
    { sensitive: true },
  ),
  databaseTimeoutMs: setting(
    'QUERY_API_DATABASE_TIMEOUT_MS',
    z.coerce.number().int().min(100).max(600_000).default(10_000),
    'How long a call may wait for a pooled database connection, and then for each of its statements, before it is answered UNAVAILABLE or DEADLINE_EXCEEDED',
  ),
  apiKeyCacheMs: setting(
    'QUERY_API_KEY_CACHE_MS',
    z.coerce.number().int().min(0).max(300_000).default(5000),
    'How long an accepted API key is remembered; a revoked key stops working within this time',
  ),
};
export type QueryApiConfig = ConfigOf<typeof queryApiSettings>;

export function loadQueryApiConfig(env: NodeJS.ProcessEnv = process.env): QueryApiConfig {
  return loadConfig('query-api', queryApiSettings, env);
}
