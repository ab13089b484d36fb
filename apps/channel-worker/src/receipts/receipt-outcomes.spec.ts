import { receiptKey } from './receipt-keys';
import { receiptOutcomeOf } from './receipt-outcomes';

describe('receipt outcomes', () => {
  const receivedAt = new Date('2026-12-06T12:00:00.000Z');

  it('makes a delivered status delivered at the time the vendor gives, unless that is missing or ahead of the receipt', () => {
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
  });

  it.each([
    ['twilio', '30003', 'failed', 'undelivered'],
    ['twilio', '30008', 'failed', 'undelivered'],
    ['twilio', '30004', 'dead', 'endpoint_gone'],
    ['twilio', '30005', 'dead', 'invalid_endpoint'],
    ['twilio', '30006', 'dead', 'invalid_endpoint'],
    ['twilio', '30007', 'dead', 'rejected'],
    ['aliyun', 'MOBILE_NOT_ON_SERVICE', 'failed', 'undelivered'],
  ])('makes %s failure %s %s (%s)', (provider, error, status, code) => {
    expect(receiptOutcomeOf(provider, 'sms', { providerMessageId: 'X1', status: 'failed', error, endpoint: '+8613800000000' }, receivedAt)).toEqual({
      receiptKey: receiptKey(provider, 'X1'),
      status,
      error: code,
      deliveredAt: null,
    });
  });

  it.each([
    ['invalid_endpoint', 'dead', 'invalid_endpoint'],
    ['endpoint_gone', 'dead', 'endpoint_gone'],
    ['misconfigured', 'failed', 'misconfigured'],
    ['deferred', 'failed', 'undelivered'],
    ['undelivered', 'failed', 'undelivered'],
    ['rejected', 'failed', 'undelivered'],
  ] as const)("follows the adapter's reading %s of a bounce: %s (%s), whatever its code", (meaning, status, code) => {
    expect(receiptOutcomeOf('smtp', 'email', { providerMessageId: '<k@notify.example>', status: 'failed', error: '5.7.1', meaning }, receivedAt)).toEqual({
      receiptKey: receiptKey('smtp', '<k@notify.example>'),
      status,
      error: code,
      deliveredAt: null,
    });
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

  it('makes a Push Kit receipt of an uninstalled app dead and its token deactivated, one of notifications turned off dead, and a replaced one a retry', () => {
    const seen = new Date('2026-12-06T11:59:00.000Z');
    const receipt = (error: string) => receiptOutcomeOf('hms', 'push', { providerMessageId: 'R1', status: 'failed', endpoint: 'token-a', error, at: seen }, receivedAt);
    expect(receipt('2')).toEqual({
      receiptKey: receiptKey('hms', 'R1', 'token-a'),
      status: 'dead',
      error: 'endpoint_gone',
      deliveredAt: null,
      deactivation: { provider: 'hms', token: 'token-a', reason: 'hms: receipt 2', seenAt: seen },
    });
    expect(receipt('5')?.deactivation).toMatchObject({ token: 'token-a' });
    expect(receipt('6')).toEqual({ receiptKey: receiptKey('hms', 'R1', 'token-a'), status: 'dead', error: 'endpoint_gone', deliveredAt: null });
    expect(receipt('15')).toMatchObject({ status: 'failed', error: 'undelivered' });
    expect(receipt('15')?.deactivation).toBeUndefined();
    expect(receiptOutcomeOf('xiaomi', 'push', { providerMessageId: 'M1', status: 'failed', endpoint: 'regid', error: 'invalid_target' }, receivedAt)).toEqual({
      receiptKey: receiptKey('xiaomi', 'M1', 'regid'),
      status: 'dead',
      error: 'invalid_endpoint',
      deliveredAt: null,
      deactivation: { provider: 'xiaomi', token: 'regid', reason: 'xiaomi: receipt invalid_target', seenAt: receivedAt },
    });
  });

  it("keeps the vendors' keys apart", () => {
    expect(receiptKey('hms', 'R1')).not.toBe(receiptKey('xiaomi', 'R1'));
    expect(receiptKey('hms', 'R1', 'a')).not.toBe(receiptKey('hms', 'R1a'));
  });
});
