import { NotificationRequestSchema, requestNullsAsAbsent } from './notification-request';
import { RecipientUpdateSchema, recipientUpdateNullsAsAbsent } from './recipient-update';

describe('null optional fields', () => {
  it('reads an update’s null contact fields as absent, and still refuses a null required one', () => {
    const update = { op: 'upsert', userId: 'u-1', phone: null, email: null, locale: 'de_DE', timezone: null };
    expect(RecipientUpdateSchema.parse(recipientUpdateNullsAsAbsent(update))).toEqual({ op: 'upsert', userId: 'u-1', locale: 'de-DE' });
    expect(RecipientUpdateSchema.safeParse(recipientUpdateNullsAsAbsent({ op: 'upsert', userId: null })).success).toBe(false);
  });

  it('keeps the nulls inside a request’s data, which are the producer’s values', () => {
    const request = { id: 'r-1', type: 'ping', to: { userId: 'u-1' }, data: { coupon: null }, expiresAt: null };
    expect(NotificationRequestSchema.parse(requestNullsAsAbsent(request))).toEqual({ id: 'r-1', type: 'ping', to: { userId: 'u-1' }, data: { coupon: null } });
  });

  it('reads the null selectors of a `to` written as one class of five nullable fields as absent', () => {
    const to = { userId: 'u-42', userIds: null, topic: null, phone: null, email: null };
    expect(NotificationRequestSchema.parse(requestNullsAsAbsent({ id: 'r-1', type: 'ping', to })).to).toEqual({ userId: 'u-42' });
    // All five null is still no selector.
    const none = { userId: null, userIds: null, topic: null, phone: null, email: null };
    expect(NotificationRequestSchema.safeParse(requestNullsAsAbsent({ id: 'r-1', type: 'ping', to: none })).success).toBe(false);
  });
});
