import { simpleParser, type ParsedMail } from 'mailparser';
import { ReceiptFormatError, type ReceiptStatus } from '../../ports';

/** Nothing of a bounce is rendered: only its report and the headers it returns are read. */
const READ_ONLY_THE_REPORT = { keepDeliveryStatus: true, skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true, skipImageLinks: true } as const;

/**
 * A bounce as the mail server that could not deliver a mail reported it: a delivery status
 * notification (RFC 3464), `multipart/report; report-type=delivery-status`, whose
 * `message/delivery-status` part has a block of fields per recipient (`Final-Recipient`, `Action`,
 * `Status`, an enhanced status code of RFC 3463) and whose last part returns the mail's headers
 * (`text/rfc822-headers`) or the whole mail (`message/rfc822`), with its Message-ID.
 *
 * A recipient `failed` is a failure with its status code; `delivered` (only when a success report
 * was asked for) is a delivery; `delayed`, `relayed` and `expanded` say nothing final and are left
 * out. Mail that is no such report (an auto-reply to the return path, a bounce in free text) and a
 * report that returns no Message-ID name no send: no statuses, not an error, so the mail system that
 * passed it on does not bounce it in turn.
 */
export async function parseSmtpBounce(body: unknown): Promise<ReceiptStatus[]> {
  if (!(typeof body === 'string' || Buffer.isBuffer(body)) || body.length === 0) throw new ReceiptFormatError('smtp', 'the body is not a mail (post it as message/rfc822)');
  const mail = await simpleParser(body, READ_ONLY_THE_REPORT);
  const report = mail.attachments.find((part) => part.contentType === 'message/delivery-status');
  const returned = mail.attachments.find((part) => part.contentType === 'text/rfc822-headers' || part.contentType === 'message/rfc822');
  if (report === undefined || returned === undefined) return [];
  const messageId = bracketed((await simpleParser(returned.content, READ_ONLY_THE_REPORT)).messageId);
  if (messageId === undefined) return [];
  const at = arrivalOf(mail);
  // The first block is about the report (Reporting-MTA, Arrival-Date); each one after it, a recipient.
  return fieldBlocks(report.content.toString('utf8'))
    .filter((fields) => fields.has('action'))
    .flatMap((fields): ReceiptStatus[] => {
      const action = fields.get('action')?.toLowerCase();
      const recipient = addressOf(fields.get('final-recipient'));
      const base = { providerMessageId: messageId, ...(recipient === undefined ? {} : { endpoint: recipient }), ...(at === undefined ? {} : { at }) };
      if (action === 'delivered') return [{ ...base, status: 'delivered' }];
      if (action !== 'failed') return [];
      return [{ ...base, status: 'failed', error: statusCodeOf(fields.get('status')) }];
    });
}

/** Message-IDs compared as `<id@domain>`, as nodemailer reports the one it sent. */
function bracketed(messageId: string | undefined): string | undefined {
  const id = messageId?.trim().replace(/^<|>$/g, '');
  return id === undefined || id === '' ? undefined : `<${id}>`;
}

/** When the bounce was written, if it says: a failure's time is of no use beyond ordering. */
function arrivalOf(mail: ParsedMail): Date | undefined {
  return mail.date !== undefined && !Number.isNaN(mail.date.getTime()) ? mail.date : undefined;
}

/** `rfc822; a@example.org` → `a@example.org`. */
function addressOf(field: string | undefined): string | undefined {
  const address = field?.split(';').pop()?.trim();
  return address === undefined || address === '' ? undefined : address;
}

/** The enhanced status code (`5.1.1`), or `unknown` when the report has none. */
function statusCodeOf(field: string | undefined): string {
  return /^[245]\.\d{1,3}\.\d{1,3}\b/.exec(field?.trim() ?? '')?.[0] ?? 'unknown';
}

/** The report's blocks of header-like fields, separated by empty lines; folded lines joined; names in lower case. */
function fieldBlocks(text: string): Map<string, string>[] {
  const blocks: Map<string, string>[] = [];
  let block = new Map<string, string>();
  let last: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') {
      if (block.size > 0) blocks.push(block);
      block = new Map();
      last = undefined;
    } else if (/^\s/.test(line) && last !== undefined) {
      block.set(last, `${block.get(last)} ${line.trim()}`);
    } else {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      block.set(last, line.slice(colon + 1).trim());
    }
  }
  if (block.size > 0) blocks.push(block);
  return blocks;
}
