/** What the caller does with a failed send: drop it, retry it later, or raise an alert. */
export type ProviderErrorKind = 'permanent' | 'transient' | 'configuration';

export const ProviderErrorCode = {
  /** The token, number or address is malformed or unknown to the vendor. */
  InvalidEndpoint: 'invalid_endpoint',
  /** The endpoint existed but is gone: app uninstalled, token unregistered, recipient opted out. */
  EndpointGone: 'endpoint_gone',
  /** The vendor refused this message itself (payload, content, size); sending it again will not help. */
  Rejected: 'rejected',
  /** The vendor asked us to slow down (429 and its equivalents). */
  RateLimited: 'rate_limited',
  /** The vendor failed on its side (5xx and its equivalents). */
  Unavailable: 'unavailable',
  /**
   * The vendor put off this one recipient (an SMTP 4xx at RCPT TO: a full mailbox, greylisting, its
   * domain's DNS failing): try it later. It says nothing about the vendor, so it opens no circuit.
   */
  Deferred: 'deferred',
  Timeout: 'timeout',
  Network: 'network',
  /** This provider's circuit breaker is open after repeated vendor failures. */
  CircuitOpen: 'circuit_open',
  /** Our own rate limit for this provider would hold the call too long. */
  Throttled: 'throttled',
  /** Our own concurrency limit and its queue for this provider are full. */
  Overloaded: 'overloaded',
  /** The vendor answered something this adapter does not understand. */
  Unexpected: 'unexpected',
  /** The vendor took the message, and its delivery receipt says it did not arrive: the phone was off, say. */
  Undelivered: 'undelivered',
  /** The vendor rejected our credentials (key, secret, token signature). */
  BadCredentials: 'bad_credentials',
  /** The account or request setup is wrong: topic, sender, template, quota, a redirect. */
  Misconfigured: 'misconfigured',
  /**
   * Not sent: the message's `expiresAt` passed while the call waited for its turn
   * (`sendExpiresAt`). The delivery is `expired`, not failed: no vendor was asked.
   */
  Expired: 'expired',
} as const;
export type ProviderErrorCode = (typeof ProviderErrorCode)[keyof typeof ProviderErrorCode];

const KIND_OF_CODE: Record<ProviderErrorCode, ProviderErrorKind> = {
  invalid_endpoint: 'permanent',
  endpoint_gone: 'permanent',
  rejected: 'permanent',
  rate_limited: 'transient',
  unavailable: 'transient',
  deferred: 'transient',
  timeout: 'transient',
  network: 'transient',
  circuit_open: 'transient',
  throttled: 'transient',
  overloaded: 'transient',
  unexpected: 'transient',
  undelivered: 'transient',
  bad_credentials: 'configuration',
  misconfigured: 'configuration',
  expired: 'permanent',
};

export interface ProviderErrorInit {
  /** The adapter's id, e.g. `apns`. */
  provider: string;
  code: ProviderErrorCode;
  /** Human-readable; never holds a credential or an unmasked endpoint. */
  message: string;
  /** The vendor's own code or reason, e.g. `BadDeviceToken`, `21211`, `isv.MOBILE_NUMBER_ILLEGAL`. */
  vendorCode?: string;
  /** HTTP status or SMTP reply code of the vendor's answer, when there was one. */
  status?: number;
  /** Only for permanent errors: the device token will never work again; stop sending to it. */
  deactivateToken?: boolean;
  /** Only for transient errors: how long the vendor asked us to wait. */
  retryAfterMs?: number;
  /** Only for `circuit_open`: how long the vendor has been failing, since the circuit first opened. */
  outageMs?: number;
  cause?: unknown;
}

/** The one error type every adapter throws; `kind` follows from `code`. */
export class ProviderError extends Error {
  readonly kind: ProviderErrorKind;
  readonly provider: string;
  readonly code: ProviderErrorCode;
  readonly vendorCode: string | undefined;
  readonly status: number | undefined;
  readonly deactivateToken: boolean;
  readonly retryAfterMs: number | undefined;
  readonly outageMs: number | undefined;

  constructor(init: ProviderErrorInit) {
    super(`${init.provider}: ${init.code}: ${init.message}`, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ProviderError';
    this.provider = init.provider;
    this.code = init.code;
    this.kind = KIND_OF_CODE[init.code];
    this.vendorCode = init.vendorCode;
    this.status = init.status;
    this.deactivateToken = this.kind === 'permanent' && init.deactivateToken === true;
    this.retryAfterMs = this.kind === 'transient' ? init.retryAfterMs : undefined;
    this.outageMs = init.code === ProviderErrorCode.CircuitOpen ? init.outageMs : undefined;
  }

  /** The fields a log line or an outcome record needs, without the cause chain. */
  toJSON(): Record<string, unknown> {
    return {
      provider: this.provider,
      kind: this.kind,
      code: this.code,
      vendorCode: this.vendorCode,
      status: this.status,
      deactivateToken: this.deactivateToken,
      retryAfterMs: this.retryAfterMs,
      outageMs: this.outageMs,
      message: this.message,
    };
  }
}

export function isProviderError(error: unknown): error is ProviderError {
  return error instanceof ProviderError;
}
