import { createHash } from 'node:crypto';
import type { SendAttempt } from '../senders/send-attempt';

/**
 * What a vendor's delivery receipts name a send by (architecture D24): its adapter, the vendor's id
 * for the message and, for a push, the device's token, since Huawei and Mi Push take a token list
 * under one id and name the token in each receipt. Kept as one digest: no token is stored a second
 * time, and every key has the same short length whatever the vendor's ids.
 */
export function receiptKey(provider: string, providerMessageId: string, token?: string): string {
  const hash = createHash('sha256').update(providerMessageId);
  if (token !== undefined) hash.update('\u0000').update(token);
  return `${provider}:${hash.digest('base64url')}`;
}

/**
 * The key of an accepted send, for the adapters whose vendors send receipts (`sendsReceipts`); none
 * for the others, so their sends never enter the receipts index.
 */
export function receiptKeyOfSend({ result, device }: SendAttempt, sendsReceipts: (provider: string) => boolean): string | undefined {
  // An answer without the vendor's id: every such send to the device would share one key.
  if (result.kind !== 'accepted' || result.receipt.providerMessageId === '' || !sendsReceipts(result.provider)) return undefined;
  return receiptKey(result.provider, result.receipt.providerMessageId, device?.token);
}
