import { ManualClock, startFakeXiaomi, type FakeXiaomi } from '@notify/testing';
import { failureOf } from '../../../test/outcome';
import { RecordingLog } from '../../../test/recording-log';
import { createPushProvider } from '../../factories';
import type { PushChannelProvider, PushContent, PushResult } from '../../ports';
import { notifyId } from './xiaomi-form';

const regids = ['qXX5tXbsX/egM9lKDdWotd+regid0001', 'qXX5tXbsX/egM9lKDdWotd+regid0002', 'qXX5tXbsX/egM9lKDdWotd+regid0003'];
const content: PushContent = { title: 'Your order shipped', body: 'Order 1234 is on its way', data: { orderNo: '1234' } };

function outcomes(results: PushResult[]): string[] {
  return results.map((result) => (result.receipt === undefined ? `${result.error.code}${result.error.deactivateToken ? '+deactivate' : ''}` : 'sent'));
}

describe('Xiaomi push provider', () => {
  let fake: FakeXiaomi;
  let provider: PushChannelProvider;
  let log: RecordingLog;

  async function start(appSecret?: string, clock?: ManualClock): Promise<void> {
    log = new RecordingLog();
    fake = await startFakeXiaomi();
    provider = createPushProvider(
      { driver: 'xiaomi', baseUrl: fake.url, packageName: fake.packageName, appSecret: appSecret ?? fake.appSecret },
      { log, ...(clock === undefined ? {} : { clock }) },
    );
  }

  afterEach(async () => {
    await provider.close();
    await fake.close();
  });

  it('sends one form request for a regid list', async () => {
    await start();
    const results = await provider.sendMany({ tokens: regids, content });
    expect(fake.messages).toHaveLength(1);
    const form = fake.messages[0]?.form;
    expect(form?.get('registration_id')).toBe(regids.join(','));
    expect(form?.get('restricted_package_name')).toBe(fake.packageName);
    expect([form?.get('title'), form?.get('description'), form?.get('payload'), form?.get('pass_through')]).toEqual([
      content.title,
      content.body,
      '{"orderNo":"1234"}',
      '0',
    ]);
    expect(outcomes(results)).toEqual(['sent', 'sent', 'sent']);
    expect(results[0]?.receipt?.providerMessageId).toMatch(/^scm/);
  });

  it('sends on the configured channel (extra.channel_id), and warns at start without one: the default channel shows one push a day', async () => {
    await start();
    await provider.sendMany({ tokens: regids, content });
    expect(fake.messages[0]?.form.has('extra.channel_id')).toBe(false);
    expect(log.text).toContain('PUSH_XIAOMI_CHANNEL_ID');
    const onChannel = createPushProvider({ driver: 'xiaomi', baseUrl: fake.url, packageName: fake.packageName, channelId: '101', appSecret: fake.appSecret });
    await onChannel.sendMany({ tokens: regids, content });
    await onChannel.close();
    expect(fake.messages[1]?.form.get('extra.channel_id')).toBe('101');
  });

  it('names the receipt URL in each push when one is configured (Mi Push posts receipts nowhere else), asking for deliveries and invalid targets', async () => {
    await start();
    await provider.sendMany({ tokens: regids, content });
    expect(fake.messages[0]?.form.has('extra.callback')).toBe(false);
    const receiptUrl = 'https://notify.example/receipts/xiaomi?token=receipts-token-0123456789';
    const asking = createPushProvider({ driver: 'xiaomi', baseUrl: fake.url, packageName: fake.packageName, channelId: '101', appSecret: fake.appSecret, receiptUrl });
    await asking.sendMany({ tokens: regids, content });
    await asking.close();
    expect(fake.messages[1]?.form.get('extra.callback')).toBe(receiptUrl);
    expect(fake.messages[1]?.form.get('extra.callback.type')).toBe('17');
    expect([provider.receipts, asking.receipts]).toEqual([undefined, 'unsigned']);
  });

  it('cuts the title under the 50 characters and the description under the 128 Mi Push takes, and fills a blank one from the other', async () => {
    // Mi Push refuses longer, empty or blank texts, and the whole call with them ("长度小于50",
    // "长度小于128", "不允许全是空白字符"); the other vendors take 100 and 400.
    await start();
    const long = { ...content, title: '订单'.repeat(50), body: 'x'.repeat(400) };
    await provider.sendMany({ tokens: regids, content: long });
    await provider.sendMany({ tokens: regids, content: { ...content, title: '' } });
    await provider.sendMany({ tokens: regids, content: { ...content, body: '' } });
    await provider.sendMany({ tokens: regids, content: { ...content, title: ' \t ' } });
    const sent = fake.messages.map((m) => [m.form.get('title')!, m.form.get('description')!]);
    expect(sent[0]!.map((text) => [...text].length)).toEqual([49, 127]);
    expect(sent[0]![0]!.endsWith('…')).toBe(true);
    expect(sent[1]).toEqual([content.body, content.body]);
    expect(sent[2]).toEqual([content.title, content.title]);
    expect(sent[3]).toEqual([content.body, content.body]);
  });

  it('masks a regid that Mi Push quotes in its refusal', async () => {
    await start();
    fake.failNext({ code: 22022, reason: `invalid regid ${regids[0]}` });
    const failure = await failureOf(provider.send({ token: regids[0] as string, content }));
    expect(failure.message).not.toContain(regids[0]);
    expect(log.text).not.toContain(regids[0]);
    expect(failure.message).toContain('qXX5…0001');
  });

  it('keeps a message expiring beyond two weeks for the two weeks Mi Push allows', async () => {
    await start();
    await provider.sendMany({ tokens: regids, content: { ...content, expiresAt: new Date(Date.now() + 60 * 86_400_000) } });
    expect(fake.messages[0]?.form.get('time_to_live')).toBe(String(14 * 86_400_000));
  });

  it('deactivates only the regids reported in bad_regids', async () => {
    await start();
    fake.unregister(regids[2] as string);
    expect(outcomes(await provider.sendMany({ tokens: regids, content }))).toEqual(['sent', 'sent', 'invalid_endpoint+deactivate']);
  });

  it('deactivates every regid when none is valid (20301)', async () => {
    await start();
    regids.forEach((regid) => fake.unregister(regid));
    expect(outcomes(await provider.sendMany({ tokens: regids, content }))).toEqual(Array(3).fill('invalid_endpoint+deactivate'));
  });

  it('maps a refused AppSecret (21301) to a configuration error, logged without the secret', async () => {
    await start('wrong-app-secret-value');
    const failure = await failureOf(provider.send({ token: regids[0] as string, content }));
    expect(failure).toMatchObject({ kind: 'configuration', code: 'bad_credentials', vendorCode: '21301' });
    expect(log.text).toContain('provider_configuration');
    expect(log.text).not.toContain('wrong-app-secret-value');
  });

  it('maps the daily quota (200001) to a transient error', async () => {
    await start();
    fake.failNext({ code: 200001, reason: 'daily quota exceeded' });
    expect(outcomes(await provider.sendMany({ tokens: regids, content }))).toEqual(Array(3).fill('rate_limited'));
  });

  it('maps the documented answers: quota until midnight in China, setup mistakes to configuration, a refused message to rejected, a failed send to unavailable', async () => {
    // 2026-12-04 22:30 in Beijing (UTC+8): the daily quota is back in 90 minutes.
    await start(undefined, new ManualClock(Date.parse('2026-12-04T14:30:00Z')));
    const answers: Record<number, string> = {};
    for (const code of [10034, 200001, 10027, 22022, 21302, 65009, 10017, 20301, 27001, 65038, 26006, 10008]) {
      fake.failNext({ code, reason: 'refused' });
      const failure = await failureOf(provider.send({ token: regids[0] as string, content }));
      answers[code] = `${failure.kind}/${failure.code}`;
      // Both daily quotas: the messages sent (10034) and the pushes delivered ("exceed quota", 200001).
      if (code === 10034 || code === 200001) expect(failure.retryAfterMs).toBe(90 * 60_000);
    }
    expect(answers).toEqual({
      10034: 'transient/rate_limited',
      200001: 'transient/rate_limited',
      10027: 'transient/rate_limited',
      22022: 'configuration/misconfigured',
      21302: 'configuration/bad_credentials',
      65009: 'permanent/rejected',
      10017: 'permanent/rejected',
      20301: 'transient/unavailable',
      // A channel id that is not the app's, a callback URL Mi refuses, sends waiting for review: this installation's setup.
      27001: 'configuration/misconfigured',
      65038: 'configuration/misconfigured',
      26006: 'configuration/misconfigured',
      10008: 'permanent/rejected',
    });
  });

  it('gives two messages different notify_ids, so one does not replace the other in the tray', () => {
    // These two collided when the id was a hash to a million.
    expect(notifyId('m-147')).not.toBe(notifyId('m-26800'));
    expect(notifyId('m-147')).toBe(notifyId('m-147'));
  });

  it('maps HTTP 503 to a transient error', async () => {
    await start();
    fake.failNext({ status: 503, code: -1, reason: 'busy' });
    expect(await failureOf(provider.send({ token: regids[0] as string, content }))).toMatchObject({ kind: 'transient', code: 'unavailable', status: 503 });
  });

  it('parses the receipt callback into delivered and invalid-target statuses', () => {
    const data = JSON.stringify({ scm001: { type: 1, targets: 'r1,r2' }, scm002: { type: 16, targets: 'r3' }, scm003: { type: 2, targets: 'r4' } });
    const xiaomi = createPushProvider({ driver: 'xiaomi', packageName: 'p', appSecret: 's' });
    expect(xiaomi.parseReceipt?.(new URLSearchParams({ data }).toString())).toEqual([
      { providerMessageId: 'scm001', status: 'delivered', endpoint: 'r1' },
      { providerMessageId: 'scm001', status: 'delivered', endpoint: 'r2' },
      { providerMessageId: 'scm002', status: 'failed', endpoint: 'r3', error: 'invalid_target', meaning: 'invalid_endpoint', tokenGone: true },
    ]);
  });
});
