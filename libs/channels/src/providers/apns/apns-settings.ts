export interface ApnsSettings {
  /** `https://api.push.apple.com`, `https://api.sandbox.push.apple.com`, or a local server in tests. */
  baseUrl: string;
  teamId: string;
  /** The id of the `.p8` signing key, sent as the JWT `kid`. */
  keyId: string;
  /** The `.p8` key's PEM text. */
  signingKey: string;
  /** The app's bundle id (plus a suffix for some push types). */
  topic: string;
  /** Apple rejects tokens older than an hour and refreshes more often than every 20 minutes. */
  tokenRefreshAfterMs: number;
}
