export interface XiaomiSettings {
  /** `https://api.xmpush.xiaomi.com` (mainland China), a regional global host, or a local server in tests. */
  baseUrl: string;
  /** The AppSecret, sent as `Authorization: key=<secret>`. */
  appSecret: string;
  /** The app's package name, `restricted_package_name`. */
  packageName: string;
}
