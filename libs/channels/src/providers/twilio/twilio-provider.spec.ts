import { createHmac } from 'node:crypto';
import { startFakeTwilio, type FakeTwilio } from '@notify/testing';
import { failureOf } from '../../../test/outcome';
import { RecordingLog } from '../../../test/recording-log';
import { createSmsProvider, type ProviderLimitsInput } from '../../factories';
import { DEFAULT_PROVIDER_LIMITS, ProviderGuard, type SmsChannelProvider } from '../../ports';
import { TwilioProvider } from './twilio-provider';

const PHONE = '+14155550100';
const FROM = '+14155550199';

describe('Twilio SMS provider', () => {
  let fake: FakeTwilio;
  let provider: SmsChannelProvider;
  let log: RecordingLog;

  async function start(options: { authToken?: string; limits?: ProviderLimitsInput; from?: string } = {}): Promise<void> {
    log = new RecordingLog();
    fake = await startFakeTwilio();
    provider = createSmsProvider(
      { driver: 'twilio', baseUrl: fake.url, accountSid: fake.accountSid, authToken: options.authToken ?? fake.authToken, from: options.from ?? FROM, limits: options.limits },
      { log },
    );
  }

  afterEach(async () => {
    await provider.close();
    await fake.close();
  });

  it('posts To, From and Body and returns the message sid', async () => {
    await start();
    const receipt = await provider.send({ to: PHONE, body: 'Your code is 1234' });
    expect(fake.messages).toEqual([{ sid: receipt.providerMessageId, to: PHONE, from: FROM, body: 'Your code is 1234' }]);
    expect(receipt.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it.each([
    ['a Messaging Service', `MG${'0a'.repeat(16)}`],
    ['an alphanumeric sender that starts like one', 'MGMHotels'],
  ])('sends from %s as Twilio reads it', async (_kind, from) => {
    await start({ from });
    await provider.send({ to: PHONE, body: 'Your room is ready' });
    expect(fake.messages.map((m) => m.from)).toEqual([from]);
  });

  it.each([
    ['a body that is not JSON', 200, 'OK'],
    ['a resource without a sid', 201, { to: PHONE, status: 'queued' }],
    ['an empty body', 202, ''],
  ])('takes a 2xx with %s as sent, with an id of its own, and warns without the number', async (_kind, status, body) => {
    log = new RecordingLog();
    fake = await startFakeTwilio();
    provider = new TwilioProvider(
      { baseUrl: fake.url, accountSid: fake.accountSid, authToken: fake.authToken, from: FROM },
      new ProviderGuard('twilio', DEFAULT_PROVIDER_LIMITS, log),
      undefined,
      log,
    );
    fake.acceptNextWith({ status, body });
    const receipt = await provider.send({ to: PHONE, body: 'Your code is 1234' });
    expect(receipt.providerMessageId).toMatch(/^twilio-[0-9a-f-]{36}$/);
    expect(fake.messages).toHaveLength(1);
    expect(log.lines.map((line) => [line.level, line.fields['status']])).toEqual([['warn', status]]);
    expect(log.text).not.toContain(PHONE);
    expect(log.text).not.toContain(PHONE.slice(1));
  });

  it('refuses a number that is not E.164 before calling Twilio', async () => {
    await start();
    expect(await failureOf(provider.send({ to: '4155550100', body: 'x' }))).toMatchObject({ kind: 'permanent', code: 'invalid_endpoint' });
    expect(fake.messages).toHaveLength(0);
  });

  it('maps 21211 (invalid To) to a permanent invalid_endpoint error', async () => {
    await start();
    fake.failNext({ status: 400, code: 21211, message: `The 'To' number ${PHONE} is not a valid phone number.` });
    const failure = await failureOf(provider.send({ to: PHONE, body: 'x' }));
    expect(failure).toMatchObject({ kind: 'permanent', code: 'invalid_endpoint', vendorCode: '21211', status: 400 });
    expect(failure.message).not.toContain(PHONE);
  });

  it('maps 21610 (recipient opted out) to a permanent endpoint_gone error', async () => {
    await start();
    fake.optOut(PHONE);
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'permanent', code: 'endpoint_gone', vendorCode: '21610' });
  });

  it.each([
    [21608, "The number is unverified. Trial accounts cannot send messages to unverified numbers"],
    [21661, "'From' number is not SMS-capable"],
  ])('maps %s, which every text would meet alike until the account is fixed, to a configuration error', async (code, message) => {
    await start();
    fake.failNext({ status: 400, code, message });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'configuration', code: 'misconfigured', vendorCode: String(code), status: 400 });
  });

  it('maps 429 (20429) to a transient error carrying Retry-After', async () => {
    await start();
    fake.failNext({ status: 429, code: 20429, message: 'Too Many Requests', retryAfterSeconds: 3 });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'transient', code: 'rate_limited', retryAfterMs: 3_000 });
  });

  it('maps 21611 (the From number has too many queued messages) to a transient rate_limited error, though it comes as a 400', async () => {
    await start();
    fake.failNext({ status: 400, code: 21611, message: "This 'From' number has exceeded the maximum number of queued messages" });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'transient', code: 'rate_limited', vendorCode: '21611', status: 400 });
  });

  it.each([
    [21212, "The 'From' number +15005550001 is not a valid phone number, shortcode, or alphanumeric sender ID."],
    [21660, "Mismatch between the 'From' number +15005550006 and the account"],
    [21701, 'The Messaging Service does not exist'],
    [21705, 'The Messaging Service is invalid'],
    [21609, "Invalid 'StatusCallback'"],
  ])('maps %d (a sender or callback this account cannot use) to a configuration error, not a refusal of the message', async (code, message) => {
    await start();
    fake.failNext({ status: 400, code, message });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'configuration', code: 'misconfigured', vendorCode: String(code), status: 400 });
    expect(log.text).toContain('provider_configuration');
  });

  it('maps a refused auth token (20003) to a configuration error, logged without token or number', async () => {
    await start({ authToken: 'f'.repeat(32) });
    const failure = await failureOf(provider.send({ to: PHONE, body: 'x' }));
    expect(failure).toMatchObject({ kind: 'configuration', code: 'bad_credentials', vendorCode: '20003', status: 401 });
    expect(log.text).toContain('provider_configuration');
    expect(log.text).not.toContain('f'.repeat(32));
    expect(log.text).not.toContain(Buffer.from(`${fake.accountSid}:${'f'.repeat(32)}`).toString('base64'));
    expect(log.text).not.toContain(PHONE);
  });

  it('times out when Twilio does not answer', async () => {
    await start({ limits: { timeoutMs: 150 } });
    fake.failNext({ status: 500, code: 20500, message: 'late', delayMs: 5_000 });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'transient', code: 'timeout' });
  });

  it('parses final status callbacks and ignores intermediate ones', () => {
    const twilio = createSmsProvider({ driver: 'twilio', accountSid: 'AC1', authToken: 't', from: FROM });
    expect(twilio.parseReceipt?.('MessageSid=SM1&MessageStatus=delivered')).toEqual([{ providerMessageId: 'SM1', status: 'delivered' }]);
    expect(twilio.parseReceipt?.({ MessageSid: 'SM2', MessageStatus: 'undelivered', ErrorCode: '30003' })).toEqual([
      { providerMessageId: 'SM2', status: 'failed', error: '30003' },
    ]);
    expect(twilio.parseReceipt?.({ MessageSid: 'SM3', MessageStatus: 'sent' })).toEqual([]);
    expect(() => twilio.parseReceipt?.({ MessageStatus: 'sent' })).toThrow(/invalid_receipt/);
  });

  it.each([
    ['30004', 'endpoint_gone'],
    ['30005', 'invalid_endpoint'],
    ['30006', 'invalid_endpoint'],
    ['30007', 'rejected'],
    ['30002', 'misconfigured'],
    ['30032', 'misconfigured'],
    ['30034', 'misconfigured'],
    ['30003', undefined],
    ['30008', undefined],
    ['constructor', undefined],
  ])('reads error %s of an undelivered text as %s: only what no retry can change, or what blames the account, has a reading', (code, meaning) => {
    const twilio = createSmsProvider({ driver: 'twilio', accountSid: 'AC1', authToken: 't', from: FROM });
    expect(twilio.parseReceipt?.({ MessageSid: 'SM4', MessageStatus: 'undelivered', ErrorCode: code })).toEqual([
      { providerMessageId: 'SM4', status: 'failed', error: code, ...(meaning === undefined ? {} : { meaning }) },
    ]);
  });

  it('takes a status callback signed as Twilio signs it for the callback URL it was given, and nothing else', () => {
    const statusCallbackUrl = 'https://notify.example/receipts/twilio?region=eu';
    const twilio = createSmsProvider({ driver: 'twilio', accountSid: 'AC1', authToken: 'auth-token', from: FROM, statusCallbackUrl });
    const body = { MessageStatus: 'delivered', MessageSid: 'SM1', To: PHONE, AccountSid: 'AC1' };
    // Twilio's documented string: the URL, then each parameter's name and value, sorted by name.
    const sign = (url: string, token = 'auth-token') =>
      createHmac('sha1', token).update(`${url}AccountSidAC1MessageSidSM1MessageStatusdelivered${'To' + PHONE}`).digest('base64');
    const request = (signature: unknown, form: unknown = body) => ({ headers: { 'x-twilio-signature': signature as string }, body: form });

    expect(twilio.receiptSigned?.(request(sign(statusCallbackUrl)))).toBe(true);
    expect(twilio.receiptSigned?.(request(sign('https://notify.example/receipts/twilio')))).toBe(false);
    expect(twilio.receiptSigned?.(request(sign(statusCallbackUrl, 'another-token')))).toBe(false);
    expect(twilio.receiptSigned?.(request(sign(statusCallbackUrl), { ...body, MessageStatus: 'undelivered' }))).toBe(false);
    expect(twilio.receiptSigned?.(request(undefined))).toBe(false);
    expect(twilio.receiptSigned?.(request(sign(statusCallbackUrl), { ...body, To: { nested: PHONE } }))).toBe(false);
    // Signed for the URL with its scheme's port written out, as Twilio signs some requests, and the other way round.
    expect(twilio.receiptSigned?.(request(sign('https://notify.example:443/receipts/twilio?region=eu')))).toBe(true);
    expect(twilio.receiptSigned?.(request(sign('https://notify.example:8443/receipts/twilio?region=eu')))).toBe(false);
    const withPort = createSmsProvider({ driver: 'twilio', accountSid: 'AC1', authToken: 'auth-token', from: FROM, statusCallbackUrl: 'https://notify.example:443/receipts/twilio?region=eu' });
    expect(withPort.receiptSigned?.(request(sign(statusCallbackUrl)))).toBe(true);
    const otherPort = createSmsProvider({ driver: 'twilio', accountSid: 'AC1', authToken: 'auth-token', from: FROM, statusCallbackUrl: 'https://notify.example:8443/receipts/twilio' });
    expect(otherPort.receiptSigned?.(request(sign('https://notify.example:8443/receipts/twilio')))).toBe(true);
    expect(otherPort.receiptSigned?.(request(sign('https://notify.example/receipts/twilio')))).toBe(false);
    const bare = createSmsProvider({ driver: 'twilio', accountSid: 'AC1', authToken: 'auth-token', from: FROM, statusCallbackUrl: 'https://notify.example?r=1' });
    expect(bare.receiptSigned?.(request(sign('https://notify.example:443?r=1')))).toBe(true);
    const withoutCallback = createSmsProvider({ driver: 'twilio', accountSid: 'AC1', authToken: 'auth-token', from: FROM });
    expect(withoutCallback.receiptSigned?.(request(sign(statusCallbackUrl)))).toBe(false);
    // Twilio posts receipts only to the callback each message names: without one it sends none.
    expect([twilio.receipts, withoutCallback.receipts]).toEqual(['signed', undefined]);
  });
});
