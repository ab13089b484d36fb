import { deliveryJob } from './jobs.spec-helper';
import { PUSH_SUMMARY_BODY_CHARS, summarize, summaryTitle } from './summaries';

const job = deliveryJob;

describe('summaryTitle', () => {
  it('says how many messages, in the locale’s language, and in English for a language it lacks', () => {
    expect(summaryTitle('en-US', 1)).toBe('1 new message');
    expect(summaryTitle('en', 3)).toBe('3 new messages');
    expect(summaryTitle('zh-CN', 3)).toBe('3 条新消息');
    // Traditional characters for a reader of them, named or likely, as the routes' locales are matched.
    expect(['zh-TW', 'zh-HK', 'zh-Hant', 'zh-Hant-CN'].map((locale) => summaryTitle(locale, 3))).toEqual(Array(4).fill('3 則新訊息'));
    expect(['zh', 'zh-SG', 'zh-Hans-HK'].map((locale) => summaryTitle(locale, 3))).toEqual(Array(3).fill('3 条新消息'));
    expect(summaryTitle('de', 2)).toBe('2 neue Nachrichten');
    expect(summaryTitle('pt-BR', 4)).toBe('4 new messages');
  });

  it('says it in the language of a locale that is not a language tag, instead of failing the batch', () => {
    expect(summaryTitle('en-US,en;q=0.9', 2)).toBe('2 new messages');
    expect(summaryTitle('zh-CN,zh;q=0.9', 3)).toBe('3 条新消息');
    expect(summaryTitle('de-DE.UTF-8', 1)).toBe('1 neue Nachricht');
    expect(summaryTitle('en-US ', 2)).toBe('2 new messages');
    expect(summaryTitle('en-', 2)).toBe('2 new messages');
  });
});

describe('summarize', () => {
  it('sends single jobs as they are', () => {
    const single = job(1);
    expect(summarize([single], [])).toEqual({ sends: [single], members: new Map() });
  });

  it('makes one summary per device of a resend batch, naming every message id, newest title as the body', () => {
    const phone = [job(1), job(3), job(2)];
    const tablet = [job(4, { endpoint: 'apns:u-1/tablet' })];
    const { sends, members } = summarize([], [[...phone, ...tablet]]);
    expect(sends).toHaveLength(2);
    const summary = sends.find((s) => s.endpoint === 'apns:u-1/phone')!;
    expect(summary.message).toMatchObject({ title: '3 new messages', body: 'Title 3', data: { messageIds: ['m-1', 'm-2', 'm-3'] }, summaryOf: 3 });
    expect(members.get(summary.deliveryId)!.map((j) => j.deliveryId).sort()).toEqual(phone.map((j) => j.deliveryId).sort());
    expect(sends.find((s) => s.endpoint === 'apns:u-1/tablet')).toBe(tablet[0]);
  });

  it('lives as long as its longest-lived message and goes with its most urgent one’s priority, not only the newest’s', () => {
    const soon = '2026-11-22T10:10:00.000Z';
    const later = '2026-11-23T10:00:00.000Z';
    const summaryOf = (...jobs: ReturnType<typeof job>[]) => summarize([], [jobs]).sends[0]!;
    // The newest (3) expires in ten minutes: the summary must not, or the offline phone loses message 1 for good.
    expect(summaryOf(job(1), job(2, { expiresAt: later }), job(3, { expiresAt: soon })).expiresAt).toBeNull();
    expect(summaryOf(job(1, { expiresAt: later }), job(2, { expiresAt: soon })).expiresAt).toBe(later);
    // It shows the newest text that lives as long as it does, never one a late phone would show past its expiry.
    expect(summaryOf(job(1), job(2, { expiresAt: later }), job(3, { expiresAt: soon })).message.body).toBe('Title 1');
    expect(summaryOf(job(1, { expiresAt: later }), job(2, { expiresAt: soon })).message.body).toBe('Title 1');
    expect(summaryOf(job(1, { expiresAt: soon }), job(2, { expiresAt: '2026-11-23T10:00:00Z' }), job(3, { expiresAt: soon })).message.body).toBe('Title 2');
    expect(summaryOf(job(1, { priority: 'high' }), job(2, { priority: 'low' })).priority).toBe('high');
    expect(summaryOf(job(1, { priority: 'low' }), job(2, { priority: 'normal' })).priority).toBe('normal');
  });

  it('keeps a push summary within the vendors’ 4 KB when the latest message is long', () => {
    const long = '通知'.repeat(400); // 800 characters, 2,400 bytes of UTF-8
    const batch = Array.from({ length: 50 }, (_, i) =>
      job(i, { deliveryId: `d-${i}`, message: { ...job(i).message, id: `0190c0de-0000-7000-8000-${String(i).padStart(12, '0')}`, title: '', body: long, createdAt: new Date(Date.UTC(2026, 10, 22, 10, 0, i)).toISOString() } }),
    );
    const [summary] = summarize([], [batch]).sends;
    expect([...summary!.message.body]).toHaveLength(PUSH_SUMMARY_BODY_CHARS);
    expect(summary!.message.body.endsWith('…')).toBe(true);
    expect(Buffer.byteLength(JSON.stringify({ aps: { alert: { title: summary!.message.title, body: summary!.message.body } }, data: JSON.stringify(summary!.message.data) }))).toBeLessThan(4096);
  });

  it('lists every message of an SMS or email digest, oldest first', () => {
    const sms = [job(2, { channel: 'sms', endpoint: '+4915100000000' }), job(1, { channel: 'sms', endpoint: '+4915100000000' })];
    const { sends } = summarize([], [sms]);
    expect(sends).toHaveLength(1);
    expect(sends[0]!.message.title).toBe('2 new messages');
    expect(sends[0]!.message.body).toBe('Title 1: Body 1\nTitle 2: Body 2');
    // An email digest keeps its dash: only an SMS is billed by its alphabet.
    const mail = sms.map((job) => ({ ...job, channel: 'email' as const, endpoint: 'a@example.com' }));
    expect(summarize([], [mail]).sends[0]!.message.body).toBe('Title 1 — Body 1\nTitle 2 — Body 2');
  });

  it('splits a push batch larger than one summary may name into several, oldest first, each naming its own', () => {
    const many = Array.from({ length: 120 }, (_, i) =>
      job(i, { deliveryId: `d-${i}`, message: { ...job(i).message, id: `m-${i}`, createdAt: new Date(Date.UTC(2026, 10, 22, 10, 0, i)).toISOString() } }),
    );
    const { sends, members } = summarize([], [many.reverse()]);
    expect(sends.map((s) => (s.message.data as { messageIds: string[] }).messageIds.length)).toEqual([50, 50, 20]);
    expect(sends.map((s) => s.message.title)).toEqual(['50 new messages', '50 new messages', '20 new messages']);
    const named = sends.flatMap((s) => (s.message.data as { messageIds: string[] }).messageIds);
    expect(named).toEqual(Array.from({ length: 120 }, (_, i) => `m-${i}`));
    expect([...members.values()].flat().map((j) => j.deliveryId).sort()).toEqual(many.map((j) => j.deliveryId).sort());
  });

  it('keeps each SMS digest within 670 characters (ten UCS-2 parts), and sends a message too long for any digest on its own', () => {
    const sms = (n: number, body: string) => job(n, { channel: 'sms', endpoint: '+4915100000000', message: { ...job(n).message, body } });
    const batch = [sms(1, 'a'.repeat(300)), sms(2, 'b'.repeat(300)), sms(3, 'c'.repeat(300)), sms(4, 'd'.repeat(2_000))];
    const { sends, members } = summarize([], [batch]);
    expect(sends.map((s) => s.message.body.length)).toEqual([2 * 309 + 1, 300, 2_000]);
    expect(sends[1]).toBe(batch[2]);
    expect(sends[2]).toBe(batch[3]);
    expect(members.size).toBe(1);
    // A vendor that takes less (Aliyun: 500 with its signature) has its digests cut to that.
    const shorter = summarize([], [batch], 400);
    expect(shorter.sends.map((s) => s.message.body.length)).toEqual([300, 300, 300, 2_000]);
    expect(shorter.members.size).toBe(0);
  });
});
