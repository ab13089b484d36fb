import { join } from 'node:path';
import type { Options } from '@grpc/proto-loader';

/** Where the notify.v1 .proto files are: what the query API serves and what clients in any language generate their code from. */
export const NOTIFY_PROTO_DIR = join(__dirname, '..', 'proto');
export const NOTIFY_PROTO_FILES = ['notify/v1/message_query.proto', 'notify/v1/recipients.proto'];
export const NOTIFY_SERVICE_NAMES = ['notify.v1.MessageQuery', 'notify.v1.Recipients'];

/** How the platform loads them: field names in lowerCamelCase (as in the contract), 64-bit integers and enums as strings, absent fields undefined. */
export const NOTIFY_PROTO_LOADER_OPTIONS: Options = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true, includeDirs: [NOTIFY_PROTO_DIR] };
