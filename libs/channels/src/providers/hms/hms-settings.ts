import type { HmsReceiptCallback } from './hms-callback-id';
import type { HmsCategory } from './hms-message';

export interface HmsSettings {
  /** `https://push-api.cloud.huawei.com`, or a local server in tests. */
  baseUrl: string;
  /** `https://oauth-login.cloud.huawei.com/oauth2/v3/token`, or a local server in tests. */
  tokenUrl: string;
  /** The app id, also the OAuth client id. */
  appId: string;
  /** The app secret, the OAuth client secret. */
  appSecret: string;
  /**
   * The callback user name and key set in AppGallery Connect's receipt settings: Push Kit then signs
   * each receipt (`X-HUAWEI-CALLBACK-ID`), and only signed receipts are taken. Without them, receipts
   * are taken at the URL with the installation's receipts token.
   */
  receiptCallback?: HmsReceiptCallback;
  /** The category Huawei granted the app's messages (`android.category`); none: Push Kit classifies them itself. */
  category?: HmsCategory;
}
