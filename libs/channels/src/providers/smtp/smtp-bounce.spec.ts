import { bounceOf, startFakeSmtp, type FakeSmtp, type SmtpMail } from '@notify/testing';
import { createEmailProvider } from '../../factories';
import type { EmailChannelProvider, SendReceipt } from '../../ports';

const TO = 'alice@example.org';

describe("SMTP bounces (delivery status notifications) as the mail's receipts", () => {
  let server: FakeSmtp;
  let provider: EmailChannelProvider;

  beforeAll(async () => {
    server = await startFakeSmtp();
    provider = createEmailProvider({
      driver: 'smtp',
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.password,
      from: 'Notify <notify@example.com>',
      returnPath: 'bounces@notify.example.com',
      bounceReceipts: true,
    });
  });

  afterAll(async () => {
    await provider.close();
    await server.close();
  });

  /** A mail sent through the provider, as the receiving server got it, and its receipt. */
  async function sent(messageKey: string, to = TO): Promise<{ mail: SmtpMail; receipt: SendReceipt }> {
    const receipt = await provider.send({ to, subject: 'Your order shipped', text: 'Order 1234 is on its way', messageKey });
    return { mail: server.mails.at(-1)!, receipt };
  }

  it('sends with the return path as the envelope sender, asking for bounces of failures with the headers only, and takes them unsigned', async () => {
    const { mail } = await sent('b0a1');
    expect(mail.from).toBe('bounces@notify.example.com');
    expect(mail.dsn).toEqual({ ret: 'HDRS', notify: ['FAILURE'] });
    expect(mail.raw).toMatch(/^From: Notify <notify@example.com>$/m);
    expect(provider.receipts).toBe('unsigned');
    expect(createEmailProvider({ driver: 'smtp', host: server.host, from: 'notify@example.com' }).receipts).toBeUndefined();
  });

  it("reads a hard bounce's status code for the Message-ID of the mail whose headers it returns", async () => {
    const { mail, receipt } = await sent('b0a2');
    const bounce = bounceOf(mail, { status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 <alice@example.org>: Recipient address rejected: User unknown in virtual mailbox table' });
    expect(await provider.parseReceipt?.(bounce)).toEqual([
      { providerMessageId: receipt.providerMessageId, status: 'failed', error: '5.1.1', meaning: 'invalid_endpoint', endpoint: TO, at: new Date('2026-12-06T12:00:00.000Z') },
    ]);
    expect(await provider.parseReceipt?.(Buffer.from(bounce))).toHaveLength(1);
  });

  it('reads a report that returns the whole mail, and a success report as delivered', async () => {
    const { mail, receipt } = await sent('b0a3');
    const [failed] = (await provider.parseReceipt?.(bounceOf(mail, { status: '4.4.7', returns: 'message' }))) ?? [];
    expect(failed).toMatchObject({ providerMessageId: receipt.providerMessageId, status: 'failed', error: '4.4.7' });
    const [delivered] = (await provider.parseReceipt?.(bounceOf(mail, { action: 'delivered', status: '2.0.0' }))) ?? [];
    expect(delivered).toMatchObject({ providerMessageId: receipt.providerMessageId, status: 'delivered' });
  });

  it.each([
    ['a disabled mailbox', { status: '5.2.1' }, '5.2.1', 'endpoint_gone'],
    ['a full mailbox, though permanent', { status: '5.2.2', diagnostic: 'smtp; 552 5.2.2 Mailbox full' }, '5.2.2', 'deferred'],
    ["Exim's bare 5.0.0 over a full mailbox", { status: '5.0.0', diagnostic: 'smtp; 552 5.2.2 <alice@example.org>: Mailbox full' }, '5.2.2', 'deferred'],
    ["Exim's bare 5.0.0 over an unknown user", { status: '5.0.0', diagnostic: 'smtp; 550 5.1.1 <alice@example.org>: No such user' }, '5.1.1', 'invalid_endpoint'],
    ['a bare 5.0.0 with no code in the reply', { status: '5.0.0', diagnostic: 'smtp; 550 rejected' }, '5.0.0', 'undelivered'],
    ["a refusal of our domain's authentication", { status: '5.7.26', diagnostic: 'smtp; 550-5.7.26 This mail has been blocked because the sender is unauthenticated.' }, '5.7.26', 'misconfigured'],
    ["the relay's address on a blocklist", { status: '5.7.1', diagnostic: 'smtp; 550 5.7.1 Service unavailable, Client host [192.0.2.7] blocked using Spamhaus' }, '5.7.1', 'misconfigured'],
    ['a refused sender', { status: '5.1.8', diagnostic: 'smtp; 553 5.1.8 <bounces@notify.example.com>: Sender address rejected: Domain not found' }, '5.1.8', 'misconfigured'],
    ["a refusal of the content, which may be one digest member's", { status: '5.7.1', diagnostic: 'smtp; 550 5.7.1 Message rejected as spam' }, '5.7.1', 'undelivered'],
    ['a temporary failure that ran out', { status: '4.4.7', diagnostic: 'smtp; 421 4.4.7 Delivery time expired' }, '4.4.7', 'undelivered'],
    ["Yahoo's unknown user behind a bare 5.0.0", { status: '5.0.0', diagnostic: "smtp; 554 delivery error: dd This user doesn't have a yahoo.com account (alice@yahoo.com) [0] - mta1.mail.yahoo.com" }, '5.0.0', 'invalid_endpoint'],
    ["Yahoo's closed account", { status: '5.0.0', diagnostic: 'smtp; 554 delivery error: dd Requested mail action aborted, account has been disabled or discontinued [#102]' }, '5.0.0', 'endpoint_gone'],
    ["Microsoft's directory-based refusal", { status: '5.4.1', diagnostic: 'smtp; 550 5.4.1 Recipient address rejected: Access denied. AS(201806281)' }, '5.4.1', 'invalid_endpoint'],
    ['a domain that does not exist', { status: '5.4.4', diagnostic: 'X-Postfix; Host or domain name not found. Name service error for name=example.org type=MX: Host not found' }, '5.4.4', 'invalid_endpoint'],
    ["our own relay's mistyped host, not the recipient's domain", { status: '5.4.4', diagnostic: 'X-Postfix; Host or domain name not found. Name service error for name=smtp.provider.exmaple type=A: Host not found' }, '5.4.4', 'undelivered'],
    ["a server's check of our sender failing", { status: '5.0.0', diagnostic: 'smtp; 550-Verification failed for <bounces@notify.example.com> 550-Unrouteable address 550 Sender verify failed' }, '5.0.0', 'misconfigured'],
    ["a callout's quoted refusal of our sender", { status: '5.0.0', diagnostic: 'smtp; 550-Verification failed for <bounces@notify.example.com> 550-Called: 192.0.2.9 550-Sent: RCPT TO:<bounces@notify.example.com> 550-Response: 550 5.1.1 <bounces@notify.example.com>: Recipient address rejected: User unknown 550 Sender verify failed' }, '5.0.0', 'misconfigured'],
    ["a blocklist of the recipient's domain, which is not ours", { status: '5.7.1', diagnostic: 'smtp; 554 5.7.1 Service unavailable; Recipient address [example.org] blocked using dbl.example' }, '5.7.1', 'undelivered'],
    ['a domain that takes no mail', { status: '5.1.0', diagnostic: 'X-Postfix; Domain example.org does not accept mail (nullMX)' }, '5.1.0', 'invalid_endpoint'],
    ['an IP address in a reply without a code, not read as one', { status: '5.0.0', diagnostic: 'smtp; 554 Access from 185.5.1.2 refused, poor reputation' }, '5.0.0', 'undelivered'],
    ["qmail's code in brackets", { status: '5.0.0', diagnostic: "smtp; 511 sorry, no mailbox here by that name. (#5.1.1)" }, '5.1.1', 'invalid_endpoint'],
    ["Microsoft's ban of the relay's address", { status: '5.7.606', diagnostic: 'smtp; 550 5.7.606 Access denied, banned sending IP [192.0.2.7]' }, '5.7.606', 'misconfigured'],
    ["Yahoo's blocklist", { status: '5.7.1', diagnostic: "smtp; 553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.7, because the ip is in Spamhaus's list" }, '5.7.1', 'misconfigured'],
    ["an alias member's unknown mailbox, not the address the mail went to", { status: '5.1.1', finalRecipient: 'bob@other.example.org' }, '5.1.1', 'undelivered'],
  ])('reads %s', async (_case, report, error, meaning) => {
    const { mail } = await sent(`b0b-${error}-${meaning}`);
    expect(await provider.parseReceipt?.(bounceOf(mail, report))).toEqual([expect.objectContaining({ status: 'failed', error, meaning })]);
  });

  it('ends the delivery of an address on an internationalized domain, whether the bounce writes it in UTF-8 or in punycode', async () => {
    const { mail, receipt } = await sent('b0a6', 'alice@bücher.example');
    for (const finalRecipient of ['alice@bücher.example', 'alice@xn--bcher-kva.example', 'Alice@XN--BCHER-KVA.example']) {
      expect(await provider.parseReceipt?.(bounceOf(mail, { status: '5.1.1', global: true, finalRecipient }))).toEqual([
        expect.objectContaining({ providerMessageId: receipt.providerMessageId, meaning: 'invalid_endpoint' }),
      ]);
    }
  });

  it("reads RFC 6533's report of a mail with UTF-8 addresses, and a returned mail marked inline", async () => {
    const { mail, receipt } = await sent('b0a5');
    for (const report of [{ status: '5.1.1', global: true }, { status: '5.1.1', global: true, returns: 'message' as const }, { status: '5.1.1', returns: 'message' as const, inline: true }]) {
      expect(await provider.parseReceipt?.(bounceOf(mail, report))).toEqual([expect.objectContaining({ providerMessageId: receipt.providerMessageId, meaning: 'invalid_endpoint' })]);
    }
  });

  it('takes a delay warning, an auto-reply, and a report that returns no Message-ID for no status at all', async () => {
    const { mail } = await sent('b0a4');
    expect(await provider.parseReceipt?.(bounceOf(mail, { action: 'delayed', status: '4.4.1' }))).toEqual([]);
    const autoReply = ['From: alice@example.org', 'To: bounces@notify.example.com', 'Subject: Out of office', 'Auto-Submitted: auto-replied', '', 'Back on Monday.', ''].join('\r\n');
    expect(await provider.parseReceipt?.(autoReply)).toEqual([]);
    const headerless = bounceOf({ ...mail, raw: mail.raw.replace(/^Message-ID: .*\r?\n/im, '') }, { status: '5.1.1' });
    expect(await provider.parseReceipt?.(headerless)).toEqual([]);
  });

  it('refuses a body that is no mail at all', async () => {
    await expect(Promise.resolve(provider.parseReceipt?.({ statuses: [] }))).rejects.toThrow(/invalid_receipt/);
    await expect(Promise.resolve(provider.parseReceipt?.(''))).rejects.toThrow(/invalid_receipt/);
  });
});
