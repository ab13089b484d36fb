import { ProviderErrorCode } from './provider-error';

/**
 * Node's codes for a server certificate that does not verify: expired or not yet valid, for another
 * name, self-signed, or from an authority this host does not trust. No retry mends them; the vendor's
 * certificate or this installation's trust store or base URL must change.
 */
const CERTIFICATE_REFUSED = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The resolver's answers that a host name does not exist (a mistyped URL); any other failure may pass. */
export const UNKNOWN_HOST = new Set(['ENOTFOUND', 'ENODATA']);

/** Whether a transport error's code says the server's certificate does not verify. */
export function isCertificateRefused(code: unknown): boolean {
  return typeof code === 'string' && CERTIFICATE_REFUSED.has(code);
}

/**
 * What a failure to reach a vendor means: a certificate that does not verify or a host name that does
 * not exist is this installation's configuration (an alert, and the configuration's wait), not the
 * vendor's trouble; anything else is `network`. Taken for network failures, an expired certificate
 * of an SMS gateway spent an attempt of every text, then held them all behind an open circuit, and no
 * configuration alert ever fired.
 */
export function transportFailureCode(error: unknown): ProviderErrorCode {
  const code = (error as { code?: unknown } | null)?.code;
  return isCertificateRefused(code) || (typeof code === 'string' && UNKNOWN_HOST.has(code)) ? ProviderErrorCode.Misconfigured : ProviderErrorCode.Network;
}
