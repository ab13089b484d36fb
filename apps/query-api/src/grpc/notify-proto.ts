import { dirname, join } from 'node:path';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

/** The .proto files of notify.v1, shipped in libs/contracts for clients in any language. */
export const NOTIFY_PROTO_DIR = join(dirname(require.resolve('@notify/contracts/package.json')), 'proto');
export const NOTIFY_PROTO_FILES = ['notify/v1/message_query.proto', 'notify/v1/recipients.proto'];

/** Field names in lowerCamelCase (as in the contract), 64-bit integers as strings, absent fields undefined. */
const LOADER_OPTIONS: Options = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true, includeDirs: [NOTIFY_PROTO_DIR] };

export interface NotifyServices {
  MessageQuery: ServiceDefinition;
  Recipients: ServiceDefinition;
}

/** The service definitions, read from the same .proto files clients use. */
export function loadNotifyServices(): NotifyServices {
  const definition = loadSync(NOTIFY_PROTO_FILES, LOADER_OPTIONS);
  return {
    MessageQuery: definition['notify.v1.MessageQuery'] as ServiceDefinition,
    Recipients: definition['notify.v1.Recipients'] as ServiceDefinition,
  };
}
