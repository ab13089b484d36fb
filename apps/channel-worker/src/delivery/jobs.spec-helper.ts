import type { DeliveryJob } from '@notify/contracts';

/** Job `n` (0–9) of one user, a push to one phone unless overridden; its message `m-n` was made at second `n`. */
export function deliveryJob(n: number, overrides: Partial<DeliveryJob> = {}): DeliveryJob {
  return {
    deliveryId: `0190c0de-0000-7000-8000-00000000000${n}`,
    requestId: `r-${n}`,
    userId: 'u-1',
    channel: 'push',
    endpoint: 'apns:u-1/phone',
    attempt: 2,
    expiresAt: null,
    priority: 'normal',
    locale: 'en',
    message: { id: `m-${n}`, seq: n, type: 'note', title: `Title ${n}`, body: `Body ${n}`, data: {}, createdAt: `2026-11-22T10:00:0${n}.000Z` },
    ...overrides,
  };
}
