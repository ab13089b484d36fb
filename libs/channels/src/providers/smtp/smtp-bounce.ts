import { domainToASCII } from 'node:url';
import { simpleParser, type ParsedMail } from 'mailparser';
import { ProviderErrorCode, ReceiptFormatError, type ReceiptStatus } from '../../ports';
import { blamesTheInstallation, saysMailboxFull } from './smtp-errors';

/**
 * Nothing of a bounce is rendered: only its report and the headers it returns are read. A returned
 * mail is kept whole even when marked inline (mailparser would otherwise unpack it into its parts).
 */
const READ_ONLY_THE_REPORT = {
  keepDeliveryStatus: true,
  ignoreEmbedded: true,
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
} as const;

/** The report, in RFC 3464's form or RFC 6533's for mail with UTF-8 addresses. */
const REPORT_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
/** What the report returns of the mail: its headers, or all of it. */
const RETURNED_TYPES = new Set(['text/rfc822-headers', 'message/rfc822', 'message/global-headers', 'message/global']);

/**
 * Enhanced status codes (RFC 3463) of the recipient's address that no retry changes: no such
 * mailbox (X.1.1), no such domain (X.1.2), a malformed address (X.1.3), a mailbox that moved
 * (X.1.6), a domain that takes no mail (X.1.10, RFC 7505), and a disabled mailbox (X.2.1).
 */
const ADDRESS_IS_WRONG = new Set(['5.1.1', '5.1.2', '5.1.3', '5.1.6', '5.1.10']);
const MAILBOX_DISABLED = '5.2.1';
/**
 * A permanent failure's words that the address does not exist, for the servers and relays that
 * give another code or none (`5.0.0`): Yahoo's `This user doesn't have a yahoo.com account` and
 * `mailbox not found`, Microsoft's directory-based `Recipient address rejected: Access denied`,
 * Postfix's `does not accept mail (nullMX)` (5.1.0). Postfix's `Host or domain name not found`
 * (5.4.4) only when it names the recipient's domain (`NO_SUCH_DOMAIN`): naming another host, it is
 * this installation's relay that is mistyped.
 */
const ADDRESS_UNKNOWN =
  /user unknown|unknown (?:user|recipient)|no such (?:user|mailbox|recipient|address)|(?:mailbox|recipient|user|address) (?:not found|unknown|does ?n[o']t exist)|does(?: not|n't) have an? \S+ account|RecipientNotFound|recipient address rejected: access denied|does not accept mail \(nullMX\)/i;
const NO_SUCH_DOMAIN = /host or domain name not found\. name service error for name=(\S+?)\.? type=/i;
/** A permanent failure's words that the mailbox is disabled: Yahoo's `account has been disabled or discontinued`. */
const ADDRESS_DISABLED = /(?:account|mailbox) (?:has been |is )?(?:disabled|discontinued|deactivated)/i;

/**
 * A bounce as the mail server that could not deliver a mail reported it: a delivery status
 * notification (RFC 3464), `multipart/report; report-type=delivery-status`, whose
 * `message/delivery-status` part has a block of fields per recipient (`Final-Recipient`, `Action`,
 * `Status`, `Diagnostic-Code`) and whose last part returns the mail's headers
 * (`text/rfc822-headers`) or the whole mail (`message/rfc822`), with its Message-ID.
 *
 * A recipient `failed` is a failure; `delivered` (only when a success report was asked for) is a
 * delivery; `delayed`, `relayed` and `expanded` say nothing final and are left out. Mail that is no
 * such report (an auto-reply to the return path, a bounce in free text) and a report that returns no
 * Message-ID name no send: no statuses, not an error, so the mail system that passed it on does not
 * bounce it in turn.
 */
export async function parseSmtpBounce(body: unknown): Promise<ReceiptStatus[]> {
  if (!(typeof body === 'string' || Buffer.isBuffer(body)) || body.length === 0) throw new ReceiptFormatError('smtp', 'the body is not a mail (post it as message/rfc822)');
  const mail = await simpleParser(body, READ_ONLY_THE_REPORT);
  const report = mail.attachments.find((part) => REPORT_TYPES.has(part.contentType));
  const returned = mail.attachments.find((part) => RETURNED_TYPES.has(part.contentType));
  if (report === undefined || returned === undefined) return [];
  const original = await simpleParser(returned.content, READ_ONLY_THE_REPORT);
  const messageId = bracketed(original.messageId);
  if (messageId === undefined) return [];
  const sentTo = addressesOf(original);
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
      const diagnostic = fields.get('diagnostic-code');
      const reply = smtpReplyOf(diagnostic);
      const status = statusCodeOf(fields.get('status'), reply);
      const meaning = meaningOf(status, reply, diagnostic ?? '', recipient);
      // A member of an alias or a list that bounced (`Final-Recipient` another mailbox than the mail's
      // `To`, `Original-Recipient` the alias) says nothing of the address the mail was sent to: only
      // a failure of that address itself ends the delivery. An address rewritten on the way is retried.
      const aboutTheAddress = sentTo.size === 0 || (recipient !== undefined && sentTo.has(comparable(recipient)));
      return [{ ...base, status: 'failed', error: status, meaning: ENDS.has(meaning) && !aboutTheAddress ? ProviderErrorCode.Undelivered : meaning }];
    });
}

/**
 * What a failed recipient's status and the remote server's reply mean. The installation's own setup
 * (its sender address, its domain's SPF, DKIM or DMARC, its relay's address on a blocklist) fails
 * every mail alike and is no fault of the address: `misconfigured`, retried, never the end of a
 * delivery, as at the send (`smtpError`). A full mailbox (X.2.2, even with a 5) is put off, as the RFC
 * calls it persistent but transient. Only a wrong or disabled address ends the delivery, by its
 * code or, for servers that give another or a bare 5.0.0, by the reply's words. Any other refusal,
 * content or size among them, is retried as the route says: the bounce of a digest names every
 * message in it, and one message's words must not end the others.
 */
function meaningOf(status: string, reply: string | undefined, diagnostic: string, recipient: string | undefined): ProviderErrorCode {
  if (blamesTheInstallation(reply ?? diagnostic) || blamesTheInstallation(`550 ${status}`)) return ProviderErrorCode.Misconfigured;
  if (status === '5.2.2' || saysMailboxFull(reply)) return ProviderErrorCode.Deferred;
  if (!status.startsWith('5.')) return ProviderErrorCode.Undelivered;
  if (ADDRESS_IS_WRONG.has(status)) return ProviderErrorCode.InvalidEndpoint;
  // The server's own words, not those of another reply it quotes (a callout's `Response: 550 …`).
  const own = diagnostic.split(/\bresponse:/i)[0]!;
  if (status === MAILBOX_DISABLED || ADDRESS_DISABLED.test(own)) return ProviderErrorCode.EndpointGone;
  if (ADDRESS_UNKNOWN.test(own)) return ProviderErrorCode.InvalidEndpoint;
  const missing = NO_SUCH_DOMAIN.exec(own)?.[1];
  return missing !== undefined && recipient !== undefined && comparableDomain(missing) === comparable(recipient).split('@').pop()
    ? ProviderErrorCode.InvalidEndpoint
    : ProviderErrorCode.Undelivered;
}

/** An address as mail systems may each write it: lower case, no brackets, its domain in ASCII (punycode), as it went over SMTP. */
function comparable(address: string): string {
  const bare = address.trim().replace(/^<|>$/g, '').toLowerCase();
  const at = bare.lastIndexOf('@');
  return at === -1 ? bare : `${bare.slice(0, at)}@${comparableDomain(bare.slice(at + 1))}`;
}

function comparableDomain(domain: string): string {
  return domainToASCII(domain.toLowerCase()) || domain.toLowerCase();
}

/** The readings that end a delivery. */
const ENDS: ReadonlySet<ProviderErrorCode> = new Set([ProviderErrorCode.InvalidEndpoint, ProviderErrorCode.EndpointGone]);

/** The returned mail's `To` addresses, in lower case: a bounce ends a delivery only when it is about one of them. */
function addressesOf(mail: ParsedMail): Set<string> {
  const to = mail.to === undefined ? [] : Array.isArray(mail.to) ? mail.to : [mail.to];
  return new Set(to.flatMap((group) => group.value).flatMap((entry) => (entry.address === undefined ? [] : [comparable(entry.address)])));
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

/** The remote server's reply of a `Diagnostic-Code: smtp; 550 5.1.1 …`, one line (`550-5.7.26 …` multi-line replies joined). */
function smtpReplyOf(field: string | undefined): string | undefined {
  const [type, ...rest] = (field ?? '').split(';');
  return type?.trim().toLowerCase() === 'smtp' && rest.length > 0 ? rest.join(';').trim() : undefined;
}

/**
 * The enhanced code a reply gives right after its first reply code (`550 5.1.1`, `550-5.1.1`), or
 * qmail's `(#5.1.1)`; not any dotted number in its text (an IP address), nor the code of another
 * reply it quotes further on (a callout's `Response: 550 5.1.1`).
 */
const ENHANCED = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b|\(#([245]\.\d{1,3}\.\d{1,3})\)/;

/**
 * The enhanced status code (`5.1.1`). Exim and others write a bare `5.0.0` and leave the real one
 * to the server's reply quoted in `Diagnostic-Code`, which is then read instead; `unknown` when
 * neither has one.
 */
function statusCodeOf(field: string | undefined, reply: string | undefined): string {
  const given = /^[245]\.\d{1,3}\.\d{1,3}\b/.exec(field?.trim() ?? '')?.[0];
  const match = ENHANCED.exec(reply ?? '');
  const quoted = match?.[1] ?? match?.[2];
  if (given === undefined || given.endsWith('.0.0')) return quoted ?? given ?? 'unknown';
  return given;
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
