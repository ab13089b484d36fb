import { receiptKey } from './receipt-keys';
import { receiptOutcomeOf } from './receipt-outcomes';

describe('receipt outcomes', () => {
  const receivedAt = new Date('2026-12-06T12:00:00.000Z');

  it('makes a delivered status delivered at the time the vendor gives, unless that is missing, ahead of the receipt, or before the year 1', () => {
    const earlier = new Date('2026-12-06T11:59:58.000Z');
    expect(receiptOutcomeOf('twilio', 'sms', { providerMessageId: 'SM1', status: 'delivered', at: earlier }, receivedAt)).toEqual({
      receiptKey: receiptKey('twilio', 'SM1'),
      status: 'delivered',
      error: null,
      deliveredAt: earlier,
    });
    expect(receiptOutcomeOf('twilio', 'sms', { providerMessageId: 'SM1', status: 'delivered' }, receivedAt)?.deliveredAt).toEqual(receivedAt);
    const ahead = new Date('2026-12-06T12:05:00.000Z');
    expect(receiptOutcomeOf('twilio', 'sms', { providerMessageId: 'SM1', status: 'delivered', at: ahead }, receivedAt)?.deliveredAt).toEqual(receivedAt);
    // Push Kit with a negative timestamp; Aliyun's report_time "0000-06-01 00:00:00".
    for (const unstorable of [new Date(-62_200_000_000_000), new Date('0000-06-01T00:00:00Z')]) {
      expect(receiptOutcomeOf('hms', 'push', { providerMessageId: 'r1', status: 'delivered', endpoint: 'tok', at: unstorable }, receivedAt)?.deliveredAt).toEqual(receivedAt);
    }
    const gone = { providerMessageId: 'r1', status: 'failed', endpoint: 'tok', meaning: 'endpoint_gone', tokenGone: true, at: new Date(-1e15) } as const;
    expect(receiptOutcomeOf('hms', 'push', gone, receivedAt)?.deactivation?.seenAt).toEqual(receivedAt);
  });

  it.each([
    ['invalid_endpoint', 'dead', 'invalid_endpoint'],
    ['endpoint_gone', 'dead', 'endpoint_gone'],
    ['rejected', 'dead', 'rejected'],
    ['misconfigured', 'failed', 'misconfigured'],
    ['deferred', 'failed', 'undelivered'],
    ['undelivered', 'failed', 'undelivered'],
    [undefined, 'failed', 'undelivered'],
  ] as const)("follows the adapter's reading %s of a failure: %s (%s), whatever the vendor's code", (meaning, status, code) => {
    const failure = { providerMessageId: 'X1', status: 'failed', error: 'VENDOR_CODE', endpoint: '+8613800000000', ...(meaning === undefined ? {} : { meaning }) } as const;
    expect(receiptOutcomeOf('aliyun', 'sms', failure, receivedAt)).toEqual({ receiptKey: receiptKey('aliyun', 'X1'), status, error: code, deliveredAt: null });
  });

  it("names a push by its token as well, which a text's number does not change", () => {
    const tablet = receiptOutcomeOf('hms', 'push', { providerMessageId: 'R1', status: 'delivered', endpoint: 'token-a' }, receivedAt);
    const phone = receiptOutcomeOf('hms', 'push', { providerMessageId: 'R1', status: 'delivered', endpoint: 'token-b' }, receivedAt);
    expect(tablet?.receiptKey).toBe(receiptKey('hms', 'R1', 'token-a'));
    expect(phone?.receiptKey).toBe(receiptKey('hms', 'R1', 'token-b'));
    expect(tablet?.receiptKey).not.toBe(phone?.receiptKey);
    expect(tablet?.receiptKey).not.toContain('token-a');
    expect(receiptOutcomeOf('hms', 'push', { providerMessageId: 'R1', status: 'delivered' }, receivedAt)).toBeUndefined();
    expect(receiptOutcomeOf('aliyun', 'sms', { providerMessageId: 'B1', status: 'delivered', endpoint: '13800000000' }, receivedAt)?.receiptKey).toBe(receiptKey('aliyun', 'B1'));
  });

  it('deactivates the token of a push whose receipt says the token is gone, and only then', () => {
    const seen = new Date('2026-12-06T11:59:00.000Z');
    const failure = { providerMessageId: 'R1', status: 'failed', endpoint: 'token-a', error: '2', meaning: 'endpoint_gone', at: seen } as const;
    expect(receiptOutcomeOf('hms', 'push', { ...failure, tokenGone: true }, receivedAt)).toEqual({
      receiptKey: receiptKey('hms', 'R1', 'token-a'),
      status: 'dead',
      error: 'endpoint_gone',
      deliveredAt: null,
      deactivation: { provider: 'hms', token: 'token-a', reason: 'hms: receipt 2', seenAt: seen },
    });
    expect(receiptOutcomeOf('hms', 'push', failure, receivedAt)).toEqual({ receiptKey: receiptKey('hms', 'R1', 'token-a'), status: 'dead', error: 'endpoint_gone', deliveredAt: null });
    // A token gone with a failure that is worth a retry (no adapter says so today) deactivates nothing.
    expect(receiptOutcomeOf('hms', 'push', { ...failure, meaning: undefined, tokenGone: true }, receivedAt)).toEqual({
      receiptKey: receiptKey('hms', 'R1', 'token-a'),
      status: 'failed',
      error: 'undelivered',
      deliveredAt: null,
    });
    const regid = { providerMessageId: 'M1', status: 'failed', endpoint: 'regid', error: 'invalid_target', meaning: 'invalid_endpoint', tokenGone: true } as const;
    expect(receiptOutcomeOf('xiaomi', 'push', regid, receivedAt)?.deactivation).toEqual({ provider: 'xiaomi', token: 'regid', reason: 'xiaomi: receipt invalid_target', seenAt: receivedAt });
  });

  it("keeps the vendors' keys apart", () => {
    expect(receiptKey('hms', 'R1')).not.toBe(receiptKey('xiaomi', 'R1'));
    expect(receiptKey('hms', 'R1', 'a')).not.toBe(receiptKey('hms', 'R1a'));
  });
});
