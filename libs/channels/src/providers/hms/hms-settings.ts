export interface HmsSettings {
  /** `https://push-api.cloud.huawei.com`, or a local server in tests. */
  baseUrl: string;
  /** `https://oauth-login.cloud.huawei.com/oauth2/v3/token`, or a local server in tests. */
  tokenUrl: string;
  /** The app id, also the OAuth client id. */
  appId: string;
  /** The app secret, the OAuth client secret. */
  appSecret: string;
}
