export interface XiaomiSettings {
  /** `https://api.xmpush.xiaomi.com` (mainland China), a regional global host, or a local server in tests. */
  baseUrl: string;
  /** The AppSecret, sent as `Authorization: key=<secret>`. */
  appSecret: string;
  /** The app's package name, `restricted_package_name`. */
  packageName: string;
  /**
   * The channel the pushes go on (`extra.channel_id`): the app's private-message (私信) channel, which
   * Mi Push approves for order, account and chat messages. Without one a push goes on the default
   * channel, which shows one notification per app per device a day; Mi Push takes the rest without
   * complaint and shows none of them.
   */
  channelId?: string;
  /**
   * Where Mi Push posts the pushes' receipts (`extra.callback`, at most 128 bytes): the channel
   * worker's `/receipts/xiaomi` with the installation's receipts token. Mi Push posts receipts only
   * to a callback named in the message; without one it posts none.
   */
  receiptUrl?: string;
}
