import type { DeliveryJob } from '@notify/contracts';
import { SMS_TEXT_UNITS } from '../delivery/summaries';
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
    expect(smsText(job('', '订单'.repeat(1_000))).endsWith('订…')).toBe(true);
    // What is cut off does not count: a GSM text with an emoji past the cut is still sent in GSM.
    expect(smsText(job('', `${'a'.repeat(2_000)}😀`)).endsWith('a...')).toBe(true);
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

