export interface TwilioSettings {
  /** `https://api.twilio.com`, or a local server in tests. */
  baseUrl: string;
  accountSid: string;
  authToken: string;
  /** The sending number (E.164) or a Messaging Service SID (`MG…`). */
  from: string;
  /** Where Twilio posts delivery status; optional. */
  statusCallbackUrl?: string;
}
