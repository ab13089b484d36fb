import { createPushProvider, type PushChannelProvider } from '@notify/channels';
import { startFakeApns, type FakeApns } from '@notify/testing';
import { deliveryJob } from '../delivery/jobs.spec-helper';
import { summarize } from '../delivery/summaries';
import { PUSH_BODY_CHARS, PUSH_TITLE_CHARS, pushContentOf } from './push-content';

const TOKEN = 'c'.repeat(64);

describe('pushContentOf', () => {
  let fake: FakeApns;
  let apns: PushChannelProvider;

  beforeAll(async () => {
    fake = await startFakeApns();
    apns = createPushProvider({ driver: 'apns', baseUrl: fake.url, teamId: fake.teamId, keyId: fake.keyId, topic: fake.topic, signingKey: fake.signingKey });
  });

  afterAll(async () => {
    await apns.close();
    await fake.close();
  });

  it('keeps a long message within the vendors’ 4 KB: title and body cut, data left out for the app to sync', async () => {
    const long = deliveryJob(1, {
      message: { ...deliveryJob(1).message, title: '标'.repeat(300), body: '长'.repeat(5_000), data: { note: '"quoted"'.repeat(2_000) } },
    });
    const content = pushContentOf(long);
    expect([...content.title]).toHaveLength(PUSH_TITLE_CHARS);
    expect([...content.body]).toHaveLength(PUSH_BODY_CHARS);
    expect(content.body.endsWith('…')).toBe(true);
    expect(content.data).toEqual({ messageId: 'm-1', type: 'note', seq: '1', dataOmitted: 'true' });
    // Whole, APNs refused the payload for its size, a permanent refusal: the delivery was dead.
    await expect(apns.send({ token: TOKEN, content })).resolves.toMatchObject({ providerMessageId: expect.any(String) });
  });

  it('says the data was left out when the resend poller left it out of the record', () => {
    const omitted = deliveryJob(2, { message: { ...deliveryJob(2).message, data: {}, dataOmitted: true } });
    expect(pushContentOf(omitted).data).toEqual({ messageId: 'm-2', type: 'note', seq: '2', dataOmitted: 'true' });
  });

  it('leaves the data out when it would take the payload over 4 KB with an emoji-heavy title and body', async () => {
    const data = { note: 'n'.repeat(2_150) }; // within the data's own limit
    const emoji = deliveryJob(3, { message: { ...deliveryJob(3).message, title: '📦'.repeat(100), body: '🚚'.repeat(400), data } });
    const content = pushContentOf(emoji);
    expect(content.data).toMatchObject({ dataOmitted: 'true' });
    await expect(apns.send({ token: TOKEN, content })).resolves.toMatchObject({ providerMessageId: expect.any(String) });
    // With plain text the same data still fits.
    expect(pushContentOf(deliveryJob(4, { message: { ...deliveryJob(4).message, data } })).data!['data']).toBe(JSON.stringify(data));
  });

  it('says there is a message when its title and body are both empty, in the delivery’s language', () => {
    const empty = (locale: string) => deliveryJob(5, { locale, message: { ...deliveryJob(5).message, title: '', body: '' } });
    expect(pushContentOf(empty('en')).title).toBe('1 new message');
    expect(pushContentOf(empty('de-DE')).title).toBe('1 neue Nachricht');
    expect(pushContentOf(deliveryJob(6, { message: { ...deliveryJob(6).message, title: '' } })).title).toBe('');
  });

  it('keeps a short message and its data whole', () => {
    const job = deliveryJob(2, { message: { ...deliveryJob(2).message, data: { orderNo: '1234' } } });
    expect(pushContentOf(job)).toMatchObject({ title: 'Title 2', body: 'Body 2', data: { messageId: 'm-2', data: '{"orderNo":"1234"}' }, collapseKey: 'm-2' });
  });

  it('makes a push sound on iOS with the system sound, but for a low-priority message', async () => {
    await apns.send({ token: TOKEN, content: pushContentOf(deliveryJob(1, { priority: 'high' })) });
    await apns.send({ token: TOKEN, content: pushContentOf(deliveryJob(2, { priority: 'low' })) });
    const sounds = fake.pushes.slice(-2).map((push) => (push.payload as { aps: { sound?: string } }).aps.sound);
    expect(sounds).toEqual(['default', undefined]);
  });

  it('keeps every message id of a summary of 50, which APNs takes', async () => {
    const jobs = Array.from({ length: 50 }, (_, i) =>
      deliveryJob(i % 10, { deliveryId: `0190c0de-0000-7000-8000-0000000000${String(i).padStart(2, '0')}`, message: { ...deliveryJob(i % 10).message, id: `0190c0de-1111-7000-8000-0000000000${String(i).padStart(2, '0')}`, body: '长'.repeat(1_000) } }),
    );
    const [summary] = summarize([], [jobs]).sends;
    const content = pushContentOf(summary!);
    expect((JSON.parse(content.data!['data']!) as { messageIds: string[] }).messageIds).toHaveLength(50);
    expect(content.data!['summary']).toBe('50');
    await expect(apns.send({ token: TOKEN, content })).resolves.toMatchObject({ providerMessageId: expect.any(String) });
  });
});
