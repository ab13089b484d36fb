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

  it.each([
    ['Go’s zero time.Time', '0001-01-01T00:00:00Z'],
    ['.NET’s default DateTimeOffset', '0001-01-01T00:00:00+00:00'],
    ['the same instant with fractions', '0001-01-01T00:00:00.000Z'],
    ['the same instant at another offset', '0001-01-01T01:00+01:00'],
  ])('reads a sendAt and an expiresAt that are %s as absent', (_case, zero) => {
    const request = { id: 'r-1', type: 'ping', to: { userId: 'u-1' }, sendAt: zero, expiresAt: zero };
    expect(NotificationRequestSchema.parse(requestNullsAsAbsent(request))).toEqual({ id: 'r-1', type: 'ping', to: { userId: 'u-1' } });
    // The producer's object is left as it was.
    expect(request.expiresAt).toBe(zero);
  });

  it('keeps a time just after the zero time, and refuses one just before it as before', () => {
    const request = { id: 'r-1', type: 'ping', to: { userId: 'u-1' }, sendAt: '0001-01-01T00:00:00.001Z' };
    expect(NotificationRequestSchema.parse(requestNullsAsAbsent(request)).sendAt).toBe('0001-01-01T00:00:00.001Z');
    expect(NotificationRequestSchema.safeParse(requestNullsAsAbsent({ ...request, sendAt: '0000-12-31T23:59:59.999Z' })).success).toBe(false);
  });

  it('reads the null selectors of a `to` written as one class of five nullable fields as absent', () => {
    const to = { userId: 'u-42', userIds: null, topic: null, phone: null, email: null };
    expect(NotificationRequestSchema.parse(requestNullsAsAbsent({ id: 'r-1', type: 'ping', to })).to).toEqual({ userId: 'u-42' });
    // All five null is still no selector.
    const none = { userId: null, userIds: null, topic: null, phone: null, email: null };
    expect(NotificationRequestSchema.safeParse(requestNullsAsAbsent({ id: 'r-1', type: 'ping', to: none })).success).toBe(false);
  });
});
