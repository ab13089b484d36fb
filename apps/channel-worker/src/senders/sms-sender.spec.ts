import type { DeliveryJob } from '@notify/contracts';
import { createSmsProvider } from '@notify/channels';
import { SMS_TEXT_UNITS, SMS_UCS2_TEXT_UNITS } from '../delivery/summaries';
import { isGsm7 } from './gsm-text';
import { smsText } from './sms-sender';

const job = (title: string, body: string, locale = 'en'): DeliveryJob => ({ locale, message: { title, body } }) as DeliveryJob;

describe('smsText', () => {
  it('sends the body, or the title when there is no body', () => {
    expect([smsText(job('Code', 'Your code is 123456')), smsText(job('Your code is 123456', ' '))]).toEqual(['Your code is 123456', 'Your code is 123456']);
  });

  it('cuts a text longer than a provider takes, with an ellipsis, never through a character', () => {
    const long = smsText(job('', 'a'.repeat(2_000)));
    expect(long).toHaveLength(SMS_TEXT_UNITS);
    // Twilio takes 1,600 characters at most, and refuses a longer body whole.
    expect(long.length).toBeLessThanOrEqual(1_600);
    // Three dots: `…` is not in the GSM alphabet, and would make the whole text a UCS-2 SMS.
    expect(long.endsWith('a...')).toBe(true);
    // A text that goes as UCS-2 is cut to ten parts of 67, not 1,500: carriers refuse long ones (Twilio's 30019).
    const chinese = smsText(job('', '订单'.repeat(1_000)));
    expect(chinese).toHaveLength(SMS_UCS2_TEXT_UNITS);
    expect(chinese.endsWith('订…')).toBe(true);
    // What is cut off does not count: a GSM text with an emoji past the cut is still sent in GSM.
    const emojiPastTheCut = smsText(job('', `${'a'.repeat(2_000)}😀`));
    expect(emojiPastTheCut).toHaveLength(SMS_TEXT_UNITS);
    expect(emojiPastTheCut.endsWith('a...')).toBe(true);
    // Just past the cut, a link after the text: still GSM, cut to the GSM length.
    const link = 'https://notify.example/c/0190f3a2-7c4e-7b1a-9d2e-3f4a5b6c7d8e.abcdefghijklmnop';
    const nearTheCut = smsText({ locale: 'en', message: { title: '', body: `${'a'.repeat(1_460)}😀${'a'.repeat(500)}`, url: link } } as DeliveryJob);
    expect(nearTheCut).toHaveLength(SMS_TEXT_UNITS);
    expect(isGsm7(nearTheCut)).toBe(true);
    const emoji = smsText(job('', '😀'.repeat(1_000)));
    expect(emoji.length).toBeLessThanOrEqual(SMS_TEXT_UNITS);
    expect([...emoji.slice(0, -1)].every((c) => c === '😀')).toBe(true);
  });

  it('ends the text with the message’s link, whole, the text giving way when both would be too long', () => {
    const link = 'https://notify.example/c/0190f3a2-7c4e-7b1a-9d2e-3f4a5b6c7d8e.abcdefghijklmnopqrstuv';
    const linked = (body: string): DeliveryJob => ({ locale: 'en', message: { title: '', body, url: link } }) as DeliveryJob;
    expect(smsText(linked('Your order shipped'))).toBe(`Your order shipped ${link}`);
    const long = smsText(linked('a'.repeat(2_000)));
    expect(long).toHaveLength(SMS_TEXT_UNITS);
    expect(long.endsWith(`... ${link}`)).toBe(true);
  });

  it('keeps within what the vendor takes, and leaves the link out for a vendor that refuses links (Aliyun)', () => {
    const aliyun = createSmsProvider({ driver: 'aliyun', baseUrl: 'http://127.0.0.1:9', accessKeyId: 'id', accessKeySecret: 'secret', signName: '通知平台', templateCode: 'SMS_1' });
    const linked = (body: string): DeliveryJob => ({ locale: 'zh-CN', message: { title: '', body, url: 'https://notify.example/c/x.y' } }) as DeliveryJob;
    expect(smsText(linked('您的订单已发货'), aliyun)).toBe('您的订单已发货');
    // 500 characters in all, the signature and its brackets 【通知平台】 included.
    const long = smsText(linked('订单'.repeat(400)), aliyun);
    expect(long).toHaveLength(500 - '【通知平台】'.length);
    expect(long.endsWith('…')).toBe(true);
  });

  it('says there is a message, in the delivery’s language, when title and body are both empty', () => {
    expect([smsText(job('', '')), smsText(job(' ', '', 'de-DE'))]).toEqual(['1 new message', '1 neue Nachricht']);
  });
});

describe('isGsm7', () => {
  it('tells a text an SMS carries in the GSM alphabet from one that needs UCS-2', () => {
    expect(isGsm7('Your code is 123456: use it within 10 min. {ok} [€5] ~ ^ | \\ Ñoño @ £ ¿?')).toBe(true);
    expect(['Shipped — today', 'Wait…', '订单', 'Hi 😀', 'ç', '‘quoted’'].map(isGsm7)).toEqual([false, false, false, false, false, false]);
  });
});

