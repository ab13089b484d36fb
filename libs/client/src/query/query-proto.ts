import { loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { NOTIFY_PROTO_FILES, NOTIFY_PROTO_LOADER_OPTIONS } from '@notify/contracts';

export interface NotifyServiceClients {
  MessageQuery: ServiceClientConstructor;
  Recipients: ServiceClientConstructor;
}

/** The generic grpc-js clients of notify.v1, built from the .proto files at run time. */
export function loadNotifyClients(): NotifyServiceClients {
  const definition = loadSync(NOTIFY_PROTO_FILES, { ...NOTIFY_PROTO_LOADER_OPTIONS, arrays: true });
  const v1 = (loadPackageDefinition(definition).notify as GrpcObject).v1 as GrpcObject;
  return { MessageQuery: v1.MessageQuery as ServiceClientConstructor, Recipients: v1.Recipients as ServiceClientConstructor };
}
