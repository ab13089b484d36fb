import { assertE164, isE164 } from './e164';
import { mask, maskEmail, maskPhone, maskToken, scrubPersonalData } from './mask';
import { isProviderError } from './provider-error';
import { parseRetryAfter } from './retry-after';

describe('mask', () => {
  it('keeps the country prefix and last two digits of a phone number', () => {
    expect(maskPhone('+8613800001234')).toBe('+86*********34');
  });

  it('keeps the first letter and the domain of an email address', () => {
    expect(maskEmail('alice@example.com')).toBe('a***@example.com');
  });

  it('keeps four characters at each end of a device token', () => {
    expect(maskToken('a1b2c3d4e5f60718293a4b5c6d7e8f90')).toBe('a1b2…8f90');
    expect(maskToken('short')).toBe('***');
  });

  it('masks the addresses, numbers and tokens an error message quotes, and leaves the rest', () => {
    expect(scrubPersonalData('invalid recipient alice@example.com (550 5.1.1)')).toBe('invalid recipient a***@example.com (550 5.1.1)');
    expect(scrubPersonalData("mailbox o'reilly@example.com is full")).toBe('mailbox o***@example.com is full');
    expect(scrubPersonalData("unknown user 'alice@example.com'")).toBe("unknown user '***@example.com'");
    expect(scrubPersonalData('The number +8613800001234 is blacklisted')).toBe('The number +86*********34 is blacklisted');
    expect(scrubPersonalData('token cV3x_9aLkQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx is not registered')).toBe('token cV3x…RYqx is not registered');
    expect(scrubPersonalData('HTTP 503 after 1200 ms, retry in 30 s')).toBe('HTTP 503 after 1200 ms, retry in 30 s');
    // Base64 tokens too: a Mi Push regid holds `/` and `+`.
    expect(scrubPersonalData('Invalid regid qXX5tXbsX/egM9lKDdWotd+regid0001')).toBe('Invalid regid qXX5…0001');
  });

  it('recognises what it is given', () => {
    expect(mask('bob@example.org')).toBe('b***@example.org');
    expect(mask('+14155550100')).toBe('+14*******00');
    expect(mask('0123456789abcdef0123')).toBe('0123…0123');
  });
});

describe('E.164', () => {
  it('accepts a plus sign and 7 to 15 digits, nothing else', () => {
    expect(isE164('+8613800000000')).toBe(true);
    expect(isE164('8613800000000')).toBe(false);
    expect(isE164('+0123456789')).toBe(false);
    expect(isE164('+86 138 0000 0000')).toBe(false);
  });

  it('refuses a bad number with a permanent invalid_endpoint error that masks it', () => {
    let caught: unknown;
    try {
      assertE164('twilio', '13800001234');
    } catch (error) {
      caught = error;
    }
    expect(isProviderError(caught) && caught.kind === 'permanent' && caught.code === 'invalid_endpoint').toBe(true);
    expect(String((caught as Error).message)).not.toContain('13800001234');
  });
});

describe('Retry-After', () => {
  it('reads delta seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
  });
});
