import { dirname, join } from 'node:path';
import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

/** Where the notify.v1 .proto files are: also what a client in another language generates its code from. */
export const NOTIFY_PROTO_DIR = join(dirname(require.resolve('@notify/contracts/package.json')), 'proto');
export const NOTIFY_PROTO_FILES = ['notify/v1/message_query.proto', 'notify/v1/recipients.proto'];

export interface NotifyServiceClients {
  MessageQuery: ServiceClientConstructor;
  Recipients: ServiceClientConstructor;
}

/** The generic grpc-js clients of notify.v1, built from the .proto files at run time. */
export function loadNotifyClients(): NotifyServiceClients {
  const definition = loadSync(NOTIFY_PROTO_FILES, { keepCase: false, longs: String, enums: String, defaults: false, arrays: true, oneofs: true, includeDirs: [NOTIFY_PROTO_DIR] });
  const v1 = (loadPackageDefinition(definition).notify as GrpcObject).v1 as GrpcObject;
  return { MessageQuery: v1.MessageQuery as ServiceClientConstructor, Recipients: v1.Recipients as ServiceClientConstructor };
}
