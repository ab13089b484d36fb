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
  async function sent(messageKey: string): Promise<{ mail: SmtpMail; receipt: SendReceipt }> {
    const receipt = await provider.send({ to: TO, subject: 'Your order shipped', text: 'Order 1234 is on its way', messageKey });
    return { mail: server.mails.at(-1)!, receipt };
  }

  it('sends with the return path as the envelope sender, so bounces reach its mailbox, and takes them unsigned', async () => {
    const { mail } = await sent('b0a1');
    expect(mail.from).toBe('bounces@notify.example.com');
    expect(mail.raw).toMatch(/^From: Notify <notify@example.com>$/m);
    expect(provider.receipts).toBe('unsigned');
    expect(createEmailProvider({ driver: 'smtp', host: server.host, from: 'notify@example.com' }).receipts).toBeUndefined();
  });

  it("reads a hard bounce's status code for the Message-ID of the mail whose headers it returns", async () => {
    const { mail, receipt } = await sent('b0a2');
    const bounce = bounceOf(mail, { status: '5.1.1', diagnostic: 'smtp; 550 5.1.1 <alice@example.org>: Recipient address rejected: User unknown in virtual mailbox table' });
    expect(await provider.parseReceipt?.(bounce)).toEqual([
      { providerMessageId: receipt.providerMessageId, status: 'failed', error: '5.1.1', endpoint: TO, at: new Date('2026-12-06T12:00:00.000Z') },
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
