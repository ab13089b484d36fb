import { DELIVERY_STATUSES, ErrorCode, type OutcomeEvent } from '@notify/contracts';
import { gaveUp, reached } from './fallback-escalation';

const event = (status: OutcomeEvent['status'], error: string | null): OutcomeEvent =>
  ({ requestId: 'r', messageId: 'm', deliveryId: 'd', userId: 'u', channel: 'websocket', status, error, attempt: 1, at: '2030-01-01T00:00:00.000Z' }) as OutcomeEvent;

/** Every status with every error code (and none): which outcomes move a route to its next channel, which end it. */
describe('fallback outcomes', () => {
  const errors = [null, ...Object.values(ErrorCode), 'rate_limited', 'endpoint_gone'];
  const all = DELIVERY_STATUSES.flatMap((status) => errors.map((error) => [status, error] as const));

  it('takes a channel for given up when its delivery is dead or expired, or failed because the user could not be reached', () => {
    const givenUp = all.filter(([status, error]) => gaveUp(event(status, error))).map(([status, error]) => (status === 'failed' ? `failed ${error}` : status));
    expect([...new Set(givenUp)].sort()).toEqual(['dead', 'expired', 'failed ack_timeout', 'failed client_error', 'failed no_endpoint', 'failed offline'].sort());
  });

  it('takes a channel for having reached the user when delivered, read or clicked, whatever the error field says', () => {
    const reachedBy = new Set(all.filter(([status, error]) => reached(event(status, error))).map(([status]) => status));
    expect([...reachedBy].sort()).toEqual(['clicked', 'delivered', 'read']);
  });
});
