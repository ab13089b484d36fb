import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Twilio's request signature (`X-Twilio-Signature`): HMAC-SHA1 under the account's auth token of
 * the URL Twilio requested, followed by each POST parameter's name and value, sorted by name, all
 * in base64. The URL is the one Twilio was given (`SMS_TWILIO_STATUS_CALLBACK_URL`), not the one
 * this process sees behind a proxy.
 */
export function twilioSignature(authToken: string, url: string, params: Readonly<Record<string, string | readonly string[]>>): string {
  const signed = Object.keys(params)
    .sort()
    .map((name) => {
      const value = params[name]!;
      return typeof value === 'string' ? name + value : [...value].sort().map((each) => name + each).join('');
    })
    .join('');
  return createHmac('sha1', authToken).update(url + signed).digest('base64');
}

/** Whether `given` is the signature of that request; compared in constant time. */
export function twilioSignatureMatches(given: string | undefined, authToken: string, url: string, params: Readonly<Record<string, string | readonly string[]>>): boolean {
  if (given === undefined) return false;
  const expected = Buffer.from(twilioSignature(authToken, url, params));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
