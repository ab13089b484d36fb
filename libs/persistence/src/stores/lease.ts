/**
 * SQL for the end of a lease: `from` (an SQL timestamp) plus the milliseconds in parameter `ms`.
 * Claims and releases write it into `next_attempt_at`; the resend poller takes up what outlived it.
 */
export function leaseEnd(from: string, ms: string): string {
  return `${from} + make_interval(secs => ${ms}::double precision / 1000)`;
}
