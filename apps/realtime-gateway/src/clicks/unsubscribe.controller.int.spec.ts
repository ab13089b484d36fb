import { randomBytes, randomUUID } from 'node:crypto';
import { Module, type INestApplication } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ClickLinks } from '@notify/contracts';
import { APP_LOGGER, createLogger, listeningPort, startHttpApp } from '@notify/observability';
import { createDataSource, RecipientStore } from '@notify/persistence';
import { CLICK_LINKS } from './click-links';
import { ClickWrites } from './click-writes';
import { UnsubscribeController } from './unsubscribe.controller';

/** `GET` and `POST /u/{token}` over HTTP, on a real database: only a POST with a token this installation signed unsubscribes. */
describe('UnsubscribeController', () => {
  const links = new ClickLinks('unsubscribe-controller-spec-secret-0123456789', 'https://notify.example');
  const logger = createLogger('unsubscribe-controller-int-spec', 'silent');
  const userId = `u-unsub-${randomBytes(4).toString('hex')}`;
  let dataSource: DataSource;
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    dataSource = await createDataSource({ databaseUrl: process.env.DATABASE_URL!, databasePoolSize: 4, applicationName: 'unsubscribe-spec' }).initialize();
    @Module({
      controllers: [UnsubscribeController],
      providers: [
        { provide: CLICK_LINKS, useValue: links },
        { provide: DataSource, useValue: dataSource },
        { provide: RecipientStore, useValue: new RecipientStore(dataSource) },
        { provide: APP_LOGGER, useValue: logger },
        ClickWrites,
      ],
    })
    class UnsubscribeSpecModule {}
    app = await startHttpApp(UnsubscribeSpecModule, { port: 0, host: '127.0.0.1', logger });
    base = `http://127.0.0.1:${listeningPort(app)}`;
    await new RecipientStore(dataSource).apply([
      { op: 'subscribe', userId, topic: 'promotions' },
      { op: 'subscribe', userId, topic: 'news' },
    ]);
  });
  afterAll(async () => {
    await app?.close();
    await dataSource?.destroy();
  });

  const topicsOfUser = async () =>
    (await dataSource.query<{ topic: string }[]>('SELECT topic FROM topic_subscriptions WHERE user_id = $1 ORDER BY topic', [userId])).map((row) => row.topic);
  /** The link's address on this test's server. */
  const local = (link: string) => `${base}${new URL(link).pathname}`;
  const oneClick = (url: string) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click', redirect: 'manual' });

  it('shows a button on GET and unsubscribes nothing; a one-click POST removes the user from that topic alone', async () => {
    const url = local(links.unsubscribeLink(userId, 'promotions'));

    const page = await fetch(url, { redirect: 'manual' });
    expect([page.status, page.headers.get('cache-control')]).toEqual([200, 'no-store']);
    expect(await page.text()).toMatch(/<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">.*<button/);
    expect(await topicsOfUser()).toEqual(['news', 'promotions']);

    const unsubscribed = await oneClick(url);
    expect([unsubscribed.status, unsubscribed.headers.get('content-type'), await unsubscribed.text()]).toEqual([200, 'text/plain; charset=utf-8', 'You are unsubscribed.\n']);
    expect(await topicsOfUser()).toEqual(['news']);
    // Again, as a mail client may: the same answer.
    expect((await oneClick(url)).status).toBe(200);
  });

  it('refuses a forged token and a click link’s token with 404, on POST and GET, and unsubscribes no one', async () => {
    const [payload, mac] = new URL(links.unsubscribeLink(userId, 'news')).pathname.replace('/u/', '').split('.');
    const forged = [
      `${Buffer.from(JSON.stringify([userId, 'news'])).toString('base64url')}.${mac!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`,
      `${payload}.${new URL(new ClickLinks('another-secret-of-at-least-32-characters', 'https://notify.example').unsubscribeLink(userId, 'news')).pathname.split('.')[1]}`,
      new URL(links.link(randomUUID())).pathname.replace('/c/', ''),
    ];
    for (const token of forged) {
      expect([(await oneClick(`${base}/u/${token}`)).status, (await fetch(`${base}/u/${token}`)).status]).toEqual([404, 404]);
    }
    expect(await topicsOfUser()).toContain('news');
  });
});
