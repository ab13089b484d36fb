import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually } from '@notify/testing';
import { RunningPlatform, uniqueId } from './platform';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The demo inbox page in headless Chromium, fed from Kafka through the real gateway. */
describe('demo inbox page in a browser', () => {
  const platform = new RunningPlatform();
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    await platform.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await platform.stop();
  });

  const titles = (page: Page) => page.$$eval('#messages li .title', (items) => items.map((item) => item.textContent));

  it('shows a notification produced to Kafka, acknowledges it, and catches up after being closed', async () => {
    const userId = uniqueId('browser');
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${platform.gatewayPort}/demo#token=${platform.tokenFor(userId)}`);
    await page.waitForSelector('#status[data-state="connected"]');
    expect(await page.isVisible('#login')).toBe(false);

    await platform.produceRequest({ id: uniqueId('b1'), type: 'account.note', to: { userId }, channels: ['websocket'], content: { title: 'Hello from Kafka', body: 'first' } }, userId);
    await page.waitForSelector('#messages li .title >> text=Hello from Kafka');
    const delivered = await eventually(
      () => platform.db.query(`SELECT status FROM deliveries WHERE user_id = $1 AND channel = 'websocket'`, [userId]),
      (rows: { status: string }[]) => rows[0]?.status === 'delivered',
    );
    expect(delivered).toEqual([{ status: 'delivered' }]);

    await page.close();
    await platform.produceRequest({ id: uniqueId('b2'), type: 'account.note', to: { userId }, channels: ['websocket'], content: { title: 'While you were away', body: 'second' } }, userId);
    await eventually(
      () => platform.db.query(`SELECT count(*)::int AS n FROM deliveries WHERE user_id = $1 AND status = 'failed'`, [userId]),
      (rows: { n: number }[]) => rows[0]!.n === 1,
    );

    const reopened = await context.newPage();
    await reopened.goto(`http://127.0.0.1:${platform.gatewayPort}/demo#token=${platform.tokenFor(userId)}`);
    await reopened.waitForSelector('#messages li .title >> text=While you were away');
    expect(await titles(reopened)).toEqual(['While you were away', 'Hello from Kafka']);
    expect(await reopened.$$eval('#messages li', (items) => items.map((item) => (item as HTMLElement).dataset.seq))).toEqual(['2', '1']);
    await context.close();
  });
});
