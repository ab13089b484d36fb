import type { Options } from '@grpc/proto-loader';
import { NOTIFY_PROTO_DIR } from '@notify/contracts';

/** Field names in lowerCamelCase (as in the contract), 64-bit integers as strings, absent fields undefined. */
export const PROTO_LOADER_OPTIONS: Options = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true, includeDirs: [NOTIFY_PROTO_DIR] };
