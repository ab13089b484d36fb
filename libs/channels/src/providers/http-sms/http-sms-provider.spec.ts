import { startFakeSmsGateway, type FakeSmsGateway } from '@notify/testing';
import { failureOf } from '../../../test/outcome';
import { RecordingLog } from '../../../test/recording-log';
import { createSmsProvider, type SmsDriverConfig } from '../../factories';
import type { SmsChannelProvider } from '../../ports';

const PHONE = '+8613800001234';
const API_KEY = 'Bearer gw-secret-key-0001';

describe('HTTP SMS gateway provider', () => {
  let gateway: FakeSmsGateway;
  let elsewhere: FakeSmsGateway;
  let provider: SmsChannelProvider;
  let log: RecordingLog;

  async function start(config: Partial<Extract<SmsDriverConfig, { driver: 'http' }>> = {}): Promise<void> {
    log = new RecordingLog();
    gateway = await startFakeSmsGateway();
    elsewhere = await startFakeSmsGateway();
    provider = createSmsProvider(
      {
        driver: 'http',
        url: `${gateway.url}/sms/send`,
        bodyTemplate: '{"mobile":"{{to}}","text":"{{ body }}","sender":"{{from}}"}',
        headers: { authorization: API_KEY },
        from: 'NOTIFY',
        messageIdPath: 'data.id',
        ...config,
      },
      { log },
    );
  }

  afterEach(async () => {
    await provider.close();
    await gateway.close();
    await elsewhere.close();
  });

  it('fills the JSON template with escaped values, sends the headers and reads the message id', async () => {
    await start();
    const text = 'He said "ship it"\nnow {{to}}';
    const receipt = await provider.send({ to: PHONE, body: text });
    expect(receipt.providerMessageId).toBe('gw-1');
    const [request] = gateway.requests;
    expect(request?.path).toBe('/sms/send');
    expect(request?.headers['authorization']).toBe(API_KEY);
    expect(request?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request?.body ?? '')).toEqual({ mobile: PHONE, text, sender: 'NOTIFY' });
  });

  it('takes a 2xx without a message id at messageIdPath as sent, with an id of its own, and warns of the setting', async () => {
    await start({ messageIdPath: 'data.msgId' });
    const receipt = await provider.send({ to: PHONE, body: 'hello' });
    expect(receipt.providerMessageId).toMatch(/^http-sms-[0-9a-f-]{36}$/);
    expect(gateway.requests).toHaveLength(1);
    expect(log.lines.map((line) => [line.level, line.fields['messageIdPath']])).toEqual([['warn', 'data.msgId']]);
    expect(JSON.stringify(log.lines)).not.toContain(PHONE);
  });

  it('fills a form template with encoded values', async () => {
    await start({ format: 'form', bodyTemplate: 'to={{to}}&msg={{body}}' });
    await provider.send({ to: PHONE, body: 'a&b=c d' });
    const form = new URLSearchParams(gateway.requests[0]?.body);
    expect([form.get('to'), form.get('msg')]).toEqual([PHONE, 'a&b=c d']);
  });

  it('does not follow a redirect, and reports it as configuration', async () => {
    await start();
    gateway.replyNext({ status: 302, headers: { location: `${elsewhere.url}/steal` } });
    const failure = await failureOf(provider.send({ to: PHONE, body: 'x' }));
    expect(failure).toMatchObject({ kind: 'configuration', code: 'misconfigured', status: 302 });
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('maps 5xx to transient and 401 to configuration, never logging the API key', async () => {
    await start();
    gateway.replyNext({ status: 503, headers: { 'retry-after': '9' } });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'transient', code: 'unavailable', retryAfterMs: 9_000 });
    gateway.replyNext({ status: 401, body: { error: 'bad key' } });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'configuration', code: 'bad_credentials' });
    expect(log.text).toContain('provider_configuration');
    expect(log.text).not.toContain('gw-secret-key-0001');
    expect(log.text).not.toContain(PHONE);
  });

  it.each([
    [402, 'out of credit'],
    [405, 'wrong method'],
    [415, 'wrong content type'],
  ])('maps %d (%s), the installation’s problem with every SMS, to a configuration error, not a rejection', async (status) => {
    await start();
    gateway.replyNext({ status, body: { error: 'refused' } });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'configuration', code: 'misconfigured', status });
    expect(log.text).toContain('provider_configuration');
    expect(log.text).not.toContain(PHONE);
  });

  it('maps another 4xx to a permanent rejection', async () => {
    await start();
    gateway.replyNext({ status: 422, body: { error: 'bad number' } });
    expect(await failureOf(provider.send({ to: PHONE, body: 'x' }))).toMatchObject({ kind: 'permanent', code: 'rejected', status: 422 });
  });
});
