import { ManualClock, startFakeAliyunSms, type FakeAliyunSms } from '@notify/testing';
import { failureOf } from '../../../test/outcome';
import { RecordingLog } from '../../../test/recording-log';
import { createSmsProvider } from '../../factories';
import { DEFAULT_PROVIDER_LIMITS, ProviderGuard, type SmsChannelProvider } from '../../ports';
import { AliyunSmsProvider } from './aliyun-provider';
import { canonicalQuery, percentEncode, rpcSignature } from './aliyun-signature';

const PHONE = '+8613800001234';

describe('Aliyun SMS provider', () => {
  let fake: FakeAliyunSms;
  let provider: SmsChannelProvider;
  let log: RecordingLog;

  async function start({ accessKeySecret, breakerFailures }: { accessKeySecret?: string; breakerFailures?: number } = {}): Promise<void> {
    log = new RecordingLog();
    fake = await startFakeAliyunSms();
    provider = createSmsProvider(
      {
        driver: 'aliyun',
        baseUrl: fake.url,
        accessKeyId: fake.accessKeyId,
        accessKeySecret: accessKeySecret ?? fake.accessKeySecret,
        signName: 'Notify',
        templateCode: 'SMS_100000001',
        ...(breakerFailures === undefined ? {} : { limits: { breakerFailures } }),
      },
      { log },
    );
  }

  afterEach(async () => {
    await provider.close();
    await fake.close();
  });

  it('sends a signed SendSms request the server verifies, with the text as a template parameter', async () => {
    await start();
    const receipt = await provider.send({ to: PHONE, body: 'Order 1234 shipped! (50% off* next ~time)' });
    expect(fake.signaturesChecked).toBe(1);
    expect(fake.messages).toEqual([
      {
        phoneNumbers: '8613800001234',
        signName: 'Notify',
        templateCode: 'SMS_100000001',
        templateParam: { content: 'Order 1234 shipped! (50% off* next ~time)' },
        bizId: receipt.providerMessageId,
      },
    ]);
  });

  it("uses the message's own template when it brings one", async () => {
    await start();
    await provider.send({ to: PHONE, body: 'ignored', template: { code: 'SMS_200000002', params: { code: '4321' } } });
    expect(fake.messages[0]).toMatchObject({ templateCode: 'SMS_200000002', templateParam: { code: '4321' } });
  });

  describe('with an answer it cannot read', () => {
    beforeEach(async () => {
      log = new RecordingLog();
      fake = await startFakeAliyunSms();
      provider = new AliyunSmsProvider(
        {
          baseUrl: fake.url,
          accessKeyId: fake.accessKeyId,
          accessKeySecret: fake.accessKeySecret,
          regionId: 'cn-hangzhou',
          signName: 'Notify',
          templateCode: 'SMS_100000001',
          bodyParam: 'content',
        },
        new ProviderGuard('aliyun', DEFAULT_PROVIDER_LIMITS, log),
        undefined,
        log,
      );
    });

    it.each([
      ['a 200 whose body is not JSON', 200, '<html><body>OK</body></html>'],
      ['a 200 with Code OK but no BizId', 200, { RequestId: 'F655A8D5-B967-440B-8683-DAD6FF8DE990', Code: 'OK', Message: 'OK' }],
      ['a 202 with an empty body', 202, ''],
    ])('takes %s as sent, with an id of its own, and warns without the number', async (_kind, status, body) => {
      fake.acceptNextWith({ status, body });
      const receipt = await provider.send({ to: PHONE, body: 'Order 1234 shipped' });
      expect(receipt.providerMessageId).toMatch(/^aliyun-[0-9a-f-]{36}$/);
      expect(fake.messages).toHaveLength(1);
      expect(log.lines.map((line) => [line.level, line.fields['status']])).toEqual([['warn', status]]);
      expect(log.text).not.toContain('13800001234');
    });

    it('still takes a 200 whose JSON names a Code other than OK, or none, for an error', async () => {
      fake.acceptNextWith({ body: { RequestId: 'R1', Code: 'isv.SMS_CONTENT_ILLEGAL', Message: '短信内容包含禁止发送内容' } });
      expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'permanent', code: 'rejected', vendorCode: 'isv.SMS_CONTENT_ILLEGAL', status: 200 });
      fake.acceptNextWith({ body: { RequestId: 'R2', BizId: '900^0' } });
      expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'transient', code: 'unexpected', status: 200 });
      expect(log.lines.filter((line) => line.level === 'warn')).toEqual([]);
    });
  });

  it('maps SignatureDoesNotMatch to a configuration error, logged without the secret', async () => {
    await start({ accessKeySecret: 'not-the-secret-of-this-key' });
    const failure = await failureOf(provider.send({ to: PHONE, body: 'x' }));
    expect(failure).toMatchObject({ kind: 'configuration', code: 'bad_credentials', vendorCode: 'SignatureDoesNotMatch', status: 400 });
    expect(fake.messages).toHaveLength(0);
    expect(log.text).toContain('provider_configuration');
    expect(log.text).not.toContain('not-the-secret-of-this-key');
    expect(log.text).not.toContain('13800001234');
  });

  it('maps isv.MOBILE_NUMBER_ILLEGAL to a permanent invalid_endpoint error', async () => {
    await start();
    fake.failNext({ code: 'isv.MOBILE_NUMBER_ILLEGAL', message: '非法手机号' });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'permanent', code: 'invalid_endpoint', vendorCode: 'isv.MOBILE_NUMBER_ILLEGAL' });
  });

  it.each([
    ['isv.SMS_CONTENT_ILLEGAL', 'permanent', 'rejected'],
    ['isv.INVALID_PARAMETERS', 'permanent', 'rejected'],
    ['isv.SOME_CODE_NOT_LISTED', 'configuration', 'misconfigured'],
    ['isv.SECURITY_FROZEN_ACCOUNT', 'configuration', 'misconfigured'],
    ['isv.PRODUCT_UN_SUBSCRIPT', 'configuration', 'misconfigured'],
    ['isv.MONTH_LIMIT_CONTROL', 'configuration', 'misconfigured'],
    ['isp.SOME_CODE_NOT_LISTED', 'transient', 'unavailable'],
  ])('maps %s, answered with 200, to a %s %s error', async (vendorCode, kind, code) => {
    await start();
    fake.failNext({ code: vendorCode, message: 'refused' });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind, code, vendorCode });
  });

  it.each([
    ['InvalidTimeStamp.Expired', 400, 'configuration', 'misconfigured'],
    ['InvalidTimeStamp.Format', 400, 'configuration', 'misconfigured'],
    ['SignatureDoesNotMatch', 400, 'configuration', 'bad_credentials'],
    ['InvalidAccessKeyId.NotFound', 404, 'configuration', 'bad_credentials'],
    ['InvalidAccessKeyId.Inactive', 400, 'configuration', 'bad_credentials'],
    ['Forbidden.RAM', 403, 'configuration', 'misconfigured'],
    ['Forbidden.RiskControl', 403, 'configuration', 'misconfigured'],
    ['Throttling', 400, 'transient', 'rate_limited'],
    ['Throttling.Api', 400, 'transient', 'rate_limited'],
    ['Throttling.User', 400, 'transient', 'rate_limited'],
    ['MissingParameter', 400, 'permanent', 'rejected'],
    ['MissingPhoneNumbers', 400, 'permanent', 'rejected'],
    ['InvalidParameter', 400, 'permanent', 'rejected'],
    ['InvalidParameter.Format', 400, 'permanent', 'rejected'],
  ])('maps the RPC gateway’s %s, answered with %i, to a %s %s error without the number', async (vendorCode, status, kind, code) => {
    await start();
    fake.failNext({ code: vendorCode, message: 'refused', status });
    const failure = await failureOf(provider.send({ to: PHONE, body: 'x' }));
    expect(failure).toMatchObject({ kind, code, vendorCode, status });
    // Flow control is waited out as Throttling.User always was: a minute.
    expect(failure.retryAfterMs).toBe(code === 'rate_limited' ? 60_000 : undefined);
    expect(failure.message).not.toContain('13800001234');
    expect(log.text).not.toContain('13800001234');
  });

  it('raises a configuration alert, not a vendor failure, when this host’s clock is 20 minutes off', async () => {
    log = new RecordingLog();
    fake = await startFakeAliyunSms();
    const clock = new ManualClock(Date.now() - 20 * 60_000);
    provider = createSmsProvider(
      { driver: 'aliyun', baseUrl: fake.url, accessKeyId: fake.accessKeyId, accessKeySecret: fake.accessKeySecret, signName: 'Notify', templateCode: 'SMS_100000001' },
      { log, clock },
    );
    const failure = await failureOf(provider.send({ to: PHONE, body: 'x' }));
    expect(failure).toMatchObject({ kind: 'configuration', code: 'misconfigured', vendorCode: 'InvalidTimeStamp.Expired', status: 400 });
    expect(log.text).toContain('provider_configuration');
    expect(failure.message).not.toContain('13800001234');
    expect(log.text).not.toContain('13800001234');
  });

  it('goes by the status when a 400 names no Code', async () => {
    await start();
    fake.acceptNextWith({ status: 400, body: '<html><body>Bad Request</body></html>' });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'transient', code: 'unexpected', status: 400, vendorCode: undefined });
  });

  it('keeps sending to everyone else after messages refused for their content', async () => {
    await start({ breakerFailures: 3 });
    for (let i = 0; i < 3; i++) {
      fake.failNext({ code: 'isv.SMS_CONTENT_ILLEGAL', message: '短信内容包含禁止发送内容' });
      expect(await failureOf(provider.send({ to: PHONE, body: 'a refused word' }))).toMatchObject({ code: 'rejected' });
    }
    await provider.send({ to: PHONE, body: 'Your code is 123456' });
    expect(fake.messages).toHaveLength(1);
  });

  it('keeps sending to other numbers while one number’s limit refuses its messages again and again', async () => {
    await start({ breakerFailures: 3 });
    fake.failNext({ code: 'isv.BUSINESS_LIMIT_CONTROL', message: '触发分钟级流控Permits:1' }, 3);
    for (let i = 0; i < 3; i++) expect(await failureOf(provider.send({ to: PHONE, body: `burst ${i}` }))).toMatchObject({ code: 'deferred' });
    await provider.send({ to: '+8613800005678', body: 'Your code is 123456' });
    expect(fake.messages).toHaveLength(1);
  });

  it('maps isv.BUSINESS_LIMIT_CONTROL, a number’s own limit, to that number’s wait of a minute', async () => {
    await start();
    fake.failNext({ code: 'isv.BUSINESS_LIMIT_CONTROL', message: '触发分钟级流控Permits:1' });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'transient', code: 'deferred', retryAfterMs: 60_000 });
  });

  it.each([
    ['触发小时级流控Permits:5', 3_600_000],
    ['触发天级流控Permits:10', 86_400_000],
  ])('waits out the window a number’s limit names (%s), not a minute per attempt', async (message, retryAfterMs) => {
    await start();
    fake.failNext({ code: 'isv.BUSINESS_LIMIT_CONTROL', message });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'transient', code: 'deferred', retryAfterMs });
  });

  it('maps isv.DAY_LIMIT_CONTROL to a wait until the next midnight in China, when the daily quota comes back', async () => {
    log = new RecordingLog();
    // 2026-12-04 22:30 in Beijing (UTC+8): the quota is back in 90 minutes.
    const clock = new ManualClock(Date.parse('2026-12-04T14:30:00Z'));
    fake = await startFakeAliyunSms({ now: () => clock.now() });
    provider = createSmsProvider(
      { driver: 'aliyun', baseUrl: fake.url, accessKeyId: fake.accessKeyId, accessKeySecret: fake.accessKeySecret, signName: 'Notify', templateCode: 'SMS_100000001' },
      { log, clock },
    );
    fake.failNext({ code: 'isv.DAY_LIMIT_CONTROL', message: '触发天级流控Permits:10' });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'transient', code: 'rate_limited', retryAfterMs: 90 * 60_000 });
  });

  it('parses an SMS report into delivered and failed statuses', () => {
    const aliyun = createSmsProvider({ driver: 'aliyun', accessKeyId: 'id', accessKeySecret: 's', signName: 'n', templateCode: 't' });
    expect(
      aliyun.parseReceipt?.([
        { biz_id: '1^0', phone_number: '8613800001234', success: true, err_code: 'DELIVERED', report_time: '2026-01-01 08:00:05' },
        { biz_id: '2^0', phone_number: '8613800001235', success: false, err_code: 'MK:0001', report_time: '2026-01-01 08:00:06' },
      ]),
    ).toEqual([
      { providerMessageId: '1^0', status: 'delivered', endpoint: '8613800001234', at: new Date('2026-01-01T00:00:05Z') },
      { providerMessageId: '2^0', status: 'failed', endpoint: '8613800001235', error: 'MK:0001', at: new Date('2026-01-01T00:00:06Z') },
    ]);
  });

  it.each([
    ['MOBILE_IN_BLACK', 'endpoint_gone'],
    ['USER_REJECT', 'endpoint_gone'],
    ['MOBILE_NOT_ON_SERVICE', undefined],
    ['INVALID_NUMBER', undefined],
    ['MOBILE_SEND_LIMIT', undefined],
    ['constructor', undefined],
  ])('reads report code %s as %s: a number whose owner opted out is gone, one that may only be switched off is retried', (code, meaning) => {
    const aliyun = createSmsProvider({ driver: 'aliyun', accessKeyId: 'id', accessKeySecret: 's', signName: 'n', templateCode: 't' });
    expect(aliyun.parseReceipt?.([{ biz_id: '3^0', success: false, err_code: code }])).toEqual([
      { providerMessageId: '3^0', status: 'failed', error: code, ...(meaning === undefined ? {} : { meaning }) },
    ]);
  });
});

describe('Aliyun RPC signature', () => {
  it('encodes by RFC 3986: space as %20, * as %2A, ~ kept', () => {
    expect(percentEncode("a b*c~d!'()")).toBe('a%20b%2Ac~d%21%27%28%29');
  });

  it("matches the worked example of Alibaba Cloud's signature documentation", () => {
    const params = {
      AccessKeyId: 'testid',
      Action: 'DescribeRegions',
      Format: 'XML',
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: '3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf',
      SignatureVersion: '1.0',
      Timestamp: '2016-02-23T12:46:24Z',
      Version: '2014-05-26',
    };
    expect(canonicalQuery(params)).toBe(
      'AccessKeyId=testid&Action=DescribeRegions&Format=XML&SignatureMethod=HMAC-SHA1&SignatureNonce=3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf&SignatureVersion=1.0&Timestamp=2016-02-23T12%3A46%3A24Z&Version=2014-05-26',
    );
    expect(rpcSignature('GET', params, 'testsecret')).toBe('OLeaidS1JvxuMvnyHOwuJ+uX5qY=');
  });
});
