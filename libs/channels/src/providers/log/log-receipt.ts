import { randomUUID } from 'node:crypto';
import type { SendReceipt } from '../../ports';

export function logReceipt(now: number): SendReceipt {
  return { providerMessageId: `log-${randomUUID()}`, acceptedAt: new Date(now) };
}
