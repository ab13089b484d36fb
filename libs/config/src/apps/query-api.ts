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
  bootstrapApiKey: setting('BOOTSTRAP_API_KEY', z.string().min(16, 'at least 16 characters').optional(), 'An API key accepted with every scope (first start of a new installation)', { sensitive: true }),
};
export type QueryApiConfig = ConfigOf<typeof queryApiSettings>;

export function loadQueryApiConfig(env: NodeJS.ProcessEnv = process.env): QueryApiConfig {
  return loadConfig('query-api', queryApiSettings, env);
}
