import { maskPhone } from './mask';
import { ProviderError, ProviderErrorCode } from './provider-error';

const E164 = /^\+[1-9][0-9]{6,14}$/;

export function isE164(phone: string): boolean {
  return E164.test(phone);
}

/** Refuses a number that is not E.164 before any vendor is called: no vendor would deliver it. */
export function assertE164(provider: string, phone: string): void {
  if (!isE164(phone)) {
    throw new ProviderError({
      provider,
      code: ProviderErrorCode.InvalidEndpoint,
      message: `phone number ${maskPhone(phone)} is not in E.164 form (+ and 7 to 15 digits)`,
    });
  }
}
