const PHONE = /^\+?[0-9 ()-]{6,20}$/;

/** `+8613800001234` → `+86*******34`: enough to tell numbers apart in a log, not enough to call one. */
export function maskPhone(phone: string): string {
  const digits = phone.trim();
  if (digits.length <= 5) return '*'.repeat(digits.length);
  return `${digits.slice(0, 3)}${'*'.repeat(digits.length - 5)}${digits.slice(-2)}`;
}

/** `alice@example.com` → `a***@example.com`: the domain stays, it is what delivery problems depend on. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return maskToken(email);
  return `${email[0]}***${email.slice(at)}`;
}

/** A device token or any other opaque identifier: first and last four characters. */
export function maskToken(token: string): string {
  if (token.length < 12) return '***';
  return `${token.slice(0, 4)}…${token.slice(-4)}`;
}

/** Masks a phone number, an email address or a device token, whichever `value` looks like. */
export function mask(value: string): string {
  if (value.includes('@')) return maskEmail(value);
  if (PHONE.test(value)) return maskPhone(value);
  return maskToken(value);
}

// An apostrophe may start or end a quotation, and may be in an address's local part (o'reilly@…):
// taken into the local part, it is masked with it.
const EMAIL_IN_TEXT = /[^\s@"<>(),;:]+@[^\s@"'<>(),;:]+\.[^\s@"'<>(),;:]+/g;
const PHONE_IN_TEXT = /\+?\d[\d ()-]{5,18}\d/g;
// Base64 too (Mi Push regids hold `/` and `+`).
const TOKEN_IN_TEXT = /[A-Za-z0-9_:+/=-]{32,}/g;

/**
 * Masks whatever looks like an email address, a phone number or a device token inside free text:
 * for a vendor's or a library's error message, which may quote what it was sent, on its way to a log.
 */
export function scrubPersonalData(text: string): string {
  return text
    .replace(EMAIL_IN_TEXT, (email) => maskEmail(email))
    .replace(TOKEN_IN_TEXT, (token) => maskToken(token))
    .replace(PHONE_IN_TEXT, (phone) => (phone.replace(/\D/g, '').length >= 7 ? maskPhone(phone) : phone));
}
