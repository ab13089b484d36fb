import type { OutgoingHttpHeaders } from 'node:http2';
import { ProviderError, ProviderErrorCode, maskToken, type PushContent } from '../../ports';

const MAX_PAYLOAD_BYTES = 4096;
const MAX_COLLAPSE_ID_BYTES = 64;
const DEVICE_TOKEN = /^[0-9a-fA-F]{16,200}$/;

/** The JSON body: the app's data at the top level and Apple's `aps` dictionary beside it. */
export function apnsPayload(content: PushContent): string {
  const aps: Record<string, unknown> = content.silent
    ? { 'content-available': 1 }
    : { alert: { title: content.title, body: content.body }, ...(content.sound === undefined ? {} : { sound: content.sound }) };
  if (content.badge !== undefined) aps['badge'] = content.badge;
  const payload = JSON.stringify({ ...content.data, aps });
  if (Buffer.byteLength(payload) > MAX_PAYLOAD_BYTES) {
    throw new ProviderError({
      provider: 'apns',
      code: ProviderErrorCode.Rejected,
      vendorCode: 'PayloadTooLarge',
      message: `payload is ${Buffer.byteLength(payload)} bytes, APNs takes ${MAX_PAYLOAD_BYTES}`,
    });
  }
  return payload;
}

/** Refuses, before any request, what APNs would refuse anyway. */
export function checkApnsMessage(token: string, content: PushContent): void {
  if (!DEVICE_TOKEN.test(token)) {
    // A token that is not hex would never be accepted, and must not reach the request path.
    throw new ProviderError({
      provider: 'apns',
      code: ProviderErrorCode.InvalidEndpoint,
      vendorCode: 'BadDeviceToken',
      deactivateToken: true,
      message: `device token ${maskToken(token)} is not hexadecimal`,
    });
  }
  if (content.collapseKey !== undefined && Buffer.byteLength(content.collapseKey) > MAX_COLLAPSE_ID_BYTES) {
    throw new ProviderError({
      provider: 'apns',
      code: ProviderErrorCode.Rejected,
      vendorCode: 'BadCollapseId',
      message: `collapse id is longer than ${MAX_COLLAPSE_ID_BYTES} bytes`,
    });
  }
}

/** `apnsId` is ours, so the push has an id even before APNs answers (APNs echoes it back). */
export function apnsHeaders(token: string, content: PushContent, topic: string, providerToken: string, apnsId: string): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    ':method': 'POST',
    ':path': `/3/device/${token}`,
    authorization: `bearer ${providerToken}`,
    'apns-id': apnsId,
    'apns-topic': topic,
    'apns-push-type': content.silent ? 'background' : 'alert',
    // Background pushes must use priority 5; alerts go out at once unless marked low.
    'apns-priority': content.silent || content.priority === 'low' ? '5' : '10',
    'content-type': 'application/json',
  };
  if (content.expiresAt !== undefined) headers['apns-expiration'] = String(Math.floor(content.expiresAt.getTime() / 1000));
  if (content.collapseKey !== undefined) headers['apns-collapse-id'] = content.collapseKey;
  return headers;
}
