/**
 * The characters an SMS carries in the GSM 7-bit alphabet (3GPP TS 23.038: the default alphabet and
 * its extension table). A text with any other character goes as UCS-2, 70 characters a part instead
 * of 160: a single em dash or ellipsis the platform adds makes a one-part SMS cost two or three.
 */
const GSM_7 = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà' +
    '\f^{}\\[~]|€',
);

/** Whether every character of the text is in the GSM 7-bit alphabet. */
export function isGsm7(text: string): boolean {
  for (const char of text) if (!GSM_7.has(char)) return false;
  return true;
}
