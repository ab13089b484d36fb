import { startFakeHms, type FakeHms } from '@notify/testing';
import { failureOf } from '../../../test/outcome';
import { RecordingLog } from '../../../test/recording-log';
import { createPushProvider } from '../../factories';
import type { PushChannelProvider, PushContent, PushResult } from '../../ports';
import { hmsResults } from './hms-answer';
import { hmsCallbackId } from './hms-callback-id';

const tokens = ['IQAAAACy0kYwAAA-hms-token-0001', 'IQAAAACy0kYwAAA-hms-token-0002', 'IQAAAACy0kYwAAA-hms-token-0003'];
const content: PushContent = { title: 'Your order shipped', body: 'Order 1234 is on its way', data: { orderNo: '1234' } };

function outcomes(results: PushResult[]): string[] {
  return results.map((result) => (result.receipt === undefined ? `${result.error.code}${result.error.deactivateToken ? '+deactivate' : ''}` : 'sent'));
}

describe('HMS Push Kit provider', () => {
  let fake: FakeHms;
  let provider: PushChannelProvider;
  let log: RecordingLog;

  async function start(appSecret?: string, category?: string): Promise<void> {
    log = new RecordingLog();
    fake = await startFakeHms();
    provider = createPushProvider(
      { driver: 'hms', baseUrl: fake.url, tokenUrl: fake.tokenUrl, appId: fake.appId, appSecret: appSecret ?? fake.appSecret, ...(category === undefined ? {} : { category }) },
      { log },
    );
  }

  afterEach(async () => {
    await provider.close();
    await fake.close();
  });

  it('sends one request for a token list and gives every token the request id', async () => {
    await start();
    const results = await provider.sendMany({ tokens, content });
    expect(fake.batches).toHaveLength(1);
    expect(fake.batches[0]?.tokens).toEqual(tokens);
    expect(fake.batches[0]?.message).toMatchObject({ android: { notification: { title: content.title, body: content.body } }, data: '{"orderNo":"1234"}' });
    expect(outcomes(results)).toEqual(['sent', 'sent', 'sent']);
    expect(new Set(results.map((result) => result.receipt?.providerMessageId)).size).toBe(1);
  });

  it('names the category Huawei granted the app in every push, and none unless one is set', async () => {
    await start(undefined, 'EXPRESS');
    await provider.sendMany({ tokens, content });
    expect(fake.batches[0]?.message['android']).toMatchObject({ category: 'EXPRESS' });
    await provider.close();
    await fake.close();
    await start();
    await provider.sendMany({ tokens, content });
    expect(fake.batches[0]?.message['android']).not.toHaveProperty('category');
    expect(() => createPushProvider({ driver: 'hms', appId: '1', appSecret: 's', category: 'ORDERS' })).toThrow(/category/);
  });

  it('replaces a re-sent notification by its tag, caches every message for an offline device, and at most 15 days', async () => {
    await start();
    await provider.sendMany({ tokens, content: { ...content, collapseKey: 'm-1', expiresAt: new Date(Date.now() + 60 * 86_400_000) } });
    const android = fake.batches[0]?.message['android'] as Record<string, unknown>;
    expect(android).toMatchObject({ notification: { tag: 'm-1' }, ttl: '1296000s' });
    // Push Kit's collapse_key is an offline cache group keeping only its latest message: messages that shared one were lost.
    expect(android['collapse_key']).toBeUndefined();
  });

  it('maps partial success to deactivation of the illegal tokens only', async () => {
    await start();
    fake.unregister(tokens[1] as string);
    expect(outcomes(await provider.sendMany({ tokens, content }))).toEqual(['sent', 'invalid_endpoint+deactivate', 'sent']);
  });

  it('maps 80300007 (all tokens invalid) to deactivation of every token', async () => {
    await start();
    tokens.forEach((token) => fake.unregister(token));
    const results = await provider.sendMany({ tokens, content });
    expect(outcomes(results)).toEqual(Array(3).fill('invalid_endpoint+deactivate'));
    expect(results[0]?.error?.vendorCode).toBe('80300007');
  });

  it('fetches a new OAuth token once when Push Kit says it expired (80200003)', async () => {
    await start();
    await provider.send({ token: tokens[0] as string, content });
    fake.expireAccessTokens();
    await provider.send({ token: tokens[0] as string, content });
    expect(fake.accessTokensIssued).toBe(2);
    expect(fake.batches).toHaveLength(2);
  });

  it('maps a refused app secret to a configuration error for every token, logged without the secret', async () => {
    await start('not-the-secret-0000');
    const results = await provider.sendMany({ tokens, content });
    expect(results.map((result) => result.error?.kind)).toEqual(['configuration', 'configuration', 'configuration']);
    expect(results[0]?.error).toMatchObject({ code: 'bad_credentials', vendorCode: '1101' });
    expect(log.text).toContain('provider_configuration');
    expect(log.text).not.toContain('not-the-secret-0000');
    expect(log.text).not.toContain(fake.appSecret);
  });

  it('maps 81000001 (internal error) to a transient error for every token', async () => {
    await start();
    fake.failNext({ status: 500, code: '81000001', msg: 'System inner error' });
    const results = await provider.sendMany({ tokens, content });
    expect(results.map((result) => `${result.error?.kind}:${result.error?.code}`)).toEqual(Array(3).fill('transient:unavailable'));
  });

  it('keeps the tokens Push Kit names in its message out of the error and the log', async () => {
    await start();
    fake.failNext({ status: 400, code: '80100003', msg: `Illegal payload for token ${tokens[1]}` });
    const results = await provider.sendMany({ tokens, content });
    const messages = results.map((result) => result.error?.message ?? '');
    expect(messages.every((message) => message.includes('80100003'))).toBe(true);
    for (const token of tokens) expect(messages.join(' ') + log.text).not.toContain(token);
  });

  it('maps HTTP 503 (flow control) to rate_limited', async () => {
    await start();
    fake.failNext({ status: 503, msg: 'flow control' });
    expect(await failureOf(provider.send({ token: tokens[0] as string, content }))).toMatchObject({ kind: 'transient', code: 'rate_limited' });
  });

  it('maps a plain 404 (wrong request URI, no result code) to a configuration error for every token', async () => {
    await start();
    await provider.close();
    provider = createPushProvider({ driver: 'hms', baseUrl: `${fake.url}/not-push-kit`, tokenUrl: fake.tokenUrl, appId: fake.appId, appSecret: fake.appSecret }, { log });
    const results = await provider.sendMany({ tokens, content });
    expect(results.map((result) => `${result.error?.kind}:${result.error?.code}`)).toEqual(Array(3).fill('configuration:misconfigured'));
    expect(results[0]?.error).toMatchObject({ status: 404, deactivateToken: false });
  });

  it('maps a plain 405 without a result code to a configuration error', () => {
    const answer = { status: 405, headers: { get: () => null }, body: 'Method Not Allowed' };
    expect(() => hmsResults(answer, tokens, new Date(0))).toThrow(expect.objectContaining({ kind: 'configuration', code: 'misconfigured', status: 405 }) as Error);
  });

  it('splits more than 1000 tokens into several requests', async () => {
    await start();
    const many = Array.from({ length: 1500 }, (_, index) => `IQAAAACy0kYwAAA-hms-token-${index}`);
    const results = await provider.sendMany({ tokens: many, content });
    expect(fake.batches.map((batch) => batch.tokens.length)).toEqual([1000, 500]);
    expect(results.filter((result) => result.receipt !== undefined)).toHaveLength(1500);
  });

  it('parses a message receipt into delivered and failed statuses', () => {
    const hms = createPushProvider({ driver: 'hms', appId: '1', appSecret: 's' });
    expect(
      hms.parseReceipt?.({
        statuses: [
          { requestId: 'r1', token: 'tok-1', status: 0, timestamp: 1_700_000_000_000 },
          { requestId: 'r1', token: 'tok-2', status: 2, timestamp: 1_700_000_000_000 },
        ],
      }),
    ).toEqual([
      { providerMessageId: 'r1', status: 'delivered', endpoint: 'tok-1', at: new Date(1_700_000_000_000) },
      { providerMessageId: 'r1', status: 'failed', endpoint: 'tok-2', error: '2', meaning: 'endpoint_gone', tokenGone: true, at: new Date(1_700_000_000_000) },
    ]);
    expect(() => hms.parseReceipt?.({ nothing: true })).toThrow(/invalid_receipt/);
  });

  it.each([
    [2, { meaning: 'endpoint_gone', tokenGone: true }],
    [5, {}],
    [6, { meaning: 'endpoint_gone' }],
    [10, { meaning: 'endpoint_gone' }],
    [15, {}],
    [102, {}],
    [7, {}],
  ])('reads receipt state %s as %j: only an app gone from the device loses its token, and a token of another Android user, a replaced message or a full day is retried', (state, reading) => {
    const hms = createPushProvider({ driver: 'hms', appId: '1', appSecret: 's' });
    expect(hms.parseReceipt?.({ statuses: [{ requestId: 'r1', token: 'tok', status: state }] })).toEqual([
      { providerMessageId: 'r1', status: 'failed', endpoint: 'tok', error: String(state), ...reading },
    ]);
  });

  it('says nothing of a message held to be handed over later: by Push Kit until the device is let receive again (201), by the device until its app runs (27)', () => {
    const hms = createPushProvider({ driver: 'hms', appId: '1', appSecret: 's' });
    expect(
      hms.parseReceipt?.({
        statuses: [
          { requestId: 'r1', token: 'tok-1', status: 201 },
          { requestId: 'r1', token: 'tok-2', deliveryStatus: { result: 201 } },
          { requestId: 'r1', token: 'tok-4', status: 27 },
          { requestId: 'r1', token: 'tok-3', status: 0 },
        ],
      }),
    ).toEqual([{ providerMessageId: 'r1', status: 'delivered', endpoint: 'tok-3' }]);
  });

  it('parses the second receipt version, whose state is in deliveryStatus', () => {
    const hms = createPushProvider({ driver: 'hms', appId: '1', appSecret: 's' });
    const at = 1_700_000_000_000;
    expect(
      hms.parseReceipt?.({
        statuses: [
          { requestId: 'r2', token: 'tok-1', pushType: 0, appPackageName: 'com.example', deliveryStatus: { result: 0, timestamp: at } },
          { requestId: 'r2', token: 'tok-2', pushType: 0, appPackageName: 'com.example', deliveryStatus: { result: 2, timestamp: at } },
        ],
      }),
    ).toEqual([
      { providerMessageId: 'r2', status: 'delivered', endpoint: 'tok-1', at: new Date(at) },
      { providerMessageId: 'r2', status: 'failed', endpoint: 'tok-2', error: '2', meaning: 'endpoint_gone', tokenGone: true, at: new Date(at) },
    ]);
  });

  it("takes only receipts signed with AppGallery Connect's callback key once one is set, and none signed before it is", () => {
    const now = Date.now();
    const unsigned = createPushProvider({ driver: 'hms', appId: '1', appSecret: 's' });
    const callback = { userName: 'notify-receipts', key: 'callback-key-0123456789' };
    const signed = createPushProvider({ driver: 'hms', appId: '1', appSecret: 's', receiptUserName: callback.userName, receiptKey: callback.key });
    const headers = { 'x-huawei-callback-id': hmsCallbackId(callback, now, 'a07bfa17-6d82-4b53-a9a2-07cfef5ceef1') };
    expect([unsigned.receipts, signed.receipts]).toEqual(['unsigned', 'signed']);
    expect(signed.receiptSigned?.({ headers, body: {} })).toBe(true);
    expect(signed.receiptSigned?.({ headers: {}, body: {} })).toBe(false);
    expect(unsigned.receiptSigned?.({ headers, body: {} })).toBe(false);
    expect(() => createPushProvider({ driver: 'hms', appId: '1', appSecret: 's', receiptUserName: callback.userName })).toThrow(/hms.receiptKey or hms.receiptKeyFile/);
    expect(() => createPushProvider({ driver: 'hms', appId: '1', appSecret: 's', receiptKey: callback.key })).toThrow(/needs hms.receiptUserName/);
  });
});
