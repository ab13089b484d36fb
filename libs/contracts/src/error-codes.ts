/** Codes carried by DLQ headers, Socket.IO acknowledgements and delivery outcomes. */
export const ErrorCode = {
  InvalidJson: 'invalid_json',
  SchemaViolation: 'schema_violation',
  PayloadTooLarge: 'payload_too_large',
  UnknownType: 'unknown_type',
  TemplateError: 'template_error',
  StorageRefused: 'storage_refused',
  Unauthenticated: 'unauthenticated',
  InvalidArgument: 'invalid_argument',
  AckTimeout: 'ack_timeout',
  Offline: 'offline',
  /** Every device that answered a browser delivery answered with an error: none stored it. */
  ClientError: 'client_error',
  NoEndpoint: 'no_endpoint',
  NoOutcome: 'no_outcome',
  Internal: 'internal',
  /** A connection's requests already waiting fill its queue: ask again once they are answered. */
  Busy: 'busy',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A `failed` delivery with one of these did not reach the user now: a route's next channel should try. */
export const GAVE_UP_ERRORS: readonly ErrorCode[] = [ErrorCode.Offline, ErrorCode.AckTimeout, ErrorCode.ClientError, ErrorCode.NoEndpoint];
