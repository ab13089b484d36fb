import { randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { MessageListFilter } from '@notify/persistence';
import { PageTokens } from './page-tokens';

describe('PageTokens', () => {
  const tokens = new PageTokens(randomBytes(32));
  const query: MessageListFilter = { userId: 'u-42', status: 'failed', type: 'order.shipped', since: new Date('2026-11-01T00:00:00Z') };
  const position = { createdAt: '2026-11-22T10:00:00.123456Z', id: '019aa9b5-1f2e-7c3d-8e4f-0123456789ab' };

  const refusal = (token: string, other: MessageListFilter) => {
    try {
      tokens.read(token, other);
    } catch (error) {
      return { code: (error as { code: number }).code, message: (error as Error).message };
    }
    throw new Error('the token was accepted');
  };

  it('gives back the position it was issued with, to the microsecond, for the same query', () => {
    expect(tokens.read(tokens.issue(query, position), { ...query })).toEqual(position);
  });

  it('shows only the position, never the user or the filters', () => {
    const body = Buffer.from(tokens.issue(query, position).split('.')[0]!, 'base64url').toString('utf8');
    expect(body).not.toContain('u-42');
    expect(body).not.toContain('order.shipped');
  });

  it.each([
    ['another user', { ...query, userId: 'u-43' }],
    ['another status', { ...query, status: 'dead' as const }],
    ['no status', { ...query, status: undefined }],
    ['another type', { ...query, type: 'order.paid' }],
    ['another start', { ...query, since: new Date('2026-11-01T00:00:00.001Z') }],
    ['an end', { ...query, until: new Date('2026-12-01T00:00:00Z') }],
  ])('is refused for %s', (_, other) => {
    expect(refusal(tokens.issue(query, position), other)).toEqual({ code: status.INVALID_ARGUMENT, message: 'pageToken: not issued for this query' });
  });

  it('is refused when its position was changed, or when another secret signed it', () => {
    const [, signature] = tokens.issue(query, position).split('.');
    const moved = Buffer.from(JSON.stringify(['2030-01-01T00:00:00.000000Z', position.id])).toString('base64url');
    expect(refusal(`${moved}.${signature}`, query).message).toBe('pageToken: not issued for this query');
    expect(refusal(new PageTokens(randomBytes(32)).issue(query, position), query).message).toBe('pageToken: not issued for this query');
  });

  it.each(['', 'abc', 'a.b.c', '.', 'e30.'])('is refused as malformed: %j', (token) => {
    expect(refusal(token, query)).toEqual({ code: status.INVALID_ARGUMENT, message: expect.stringMatching(/^pageToken: /) });
  });

  describe('for ListDeliveries', () => {
    const messageId = '019aa9b5-1f2e-7c3d-8e4f-0123456789ab';
    const deliveryId = '019aa9b5-2222-7c3d-8e4f-0123456789ab';
    const refusedFor = (token: string, otherMessage: string) => {
      try {
        tokens.readDeliveries(token, otherMessage);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('the token was accepted');
    };

    it('gives back the delivery it was issued with, for the same message in either case', () => {
      expect(tokens.readDeliveries(tokens.issueDeliveries(messageId, deliveryId), messageId.toUpperCase())).toBe(deliveryId);
    });

    it('is refused for another message, as a ListMessages token, and a ListMessages token is refused here', () => {
      const token = tokens.issueDeliveries(messageId, deliveryId);
      expect(refusedFor(token, '019aa9b5-1f2e-7c3d-8e4f-0123456789ac')).toBe('pageToken: not issued for this query');
      expect(refusal(token, query).message).toBe('pageToken: not issued for this query');
      expect(refusedFor(tokens.issue(query, position), messageId)).toBe('pageToken: not issued for this query');
    });
  });
});
