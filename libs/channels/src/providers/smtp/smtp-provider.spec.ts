import { startFakeSmtp, type FakeSmtp } from '@notify/testing';
import { failureOf } from '../../../test/outcome';
import { RecordingLog } from '../../../test/recording-log';
import { createEmailProvider } from '../../factories';
import type { EmailChannelProvider } from '../../ports';

const TO = 'alice@example.com';

describe('SMTP email provider', () => {
  let server: FakeSmtp;
  let provider: EmailChannelProvider;
  let log: RecordingLog;

  async function start(password?: string, timeoutMs?: number, breakerFailures = 100, from = 'Notify <notify@example.com>', implicitTls = false): Promise<void> {
    log = new RecordingLog();
    server = await startFakeSmtp({ implicitTls });
    provider = createEmailProvider(
      {
        driver: 'smtp',
        host: server.host,
        port: server.port,
        ...(implicitTls ? { secure: true } : {}),
        user: server.user,
        password: password ?? server.password,
        from,
        maxConnections: 1,
        limits: { breakerFailures, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
      },
      { log },
    );
  }

  afterEach(async () => {
    await provider.close();
    await server.close();
  });

  it('sends a mail with text and HTML bodies and returns its Message-ID', async () => {
    await start();
    const receipt = await provider.send({
      to: TO,
      subject: 'Your order shipped',
      text: 'Order 1234 is on its way',
      html: '<p>Order <b>1234</b> is on its way</p>',
      headers: { 'X-Notify-Message-Id': 'm-1' },
    });
    expect(server.mails).toHaveLength(1);
    const mail = server.mails[0];
    expect(mail?.from).toBe('notify@example.com');
    expect(mail?.to).toEqual([TO]);
    expect(mail?.raw).toContain('Subject: Your order shipped');
    expect(mail?.raw).toContain('Content-Type: text/plain');
    expect(mail?.raw).toContain('Content-Type: text/html');
    expect(mail?.raw).toContain('<b>1234</b>');
    expect(mail?.raw).toMatch(/^X-Notify-Message-Id: m-1$/im);
    expect(mail?.raw).toContain(`Message-ID: ${receipt.providerMessageId}`);
  });

  it('gives every attempt of a mail with a message key the same Message-ID, at the sender’s domain', async () => {
    await start();
    const mail = { to: TO, subject: 'Your order shipped', text: 'x', messageKey: '0f3a9c' };
    const receipts = [await provider.send(mail), await provider.send(mail), await provider.send({ ...mail, messageKey: '77b1e2' })];
    expect(receipts.map((r) => r.providerMessageId)).toEqual(['<0f3a9c@example.com>', '<0f3a9c@example.com>', '<77b1e2@example.com>']);
    expect(server.mails.map((m) => /^Message-ID: (.*)$/im.exec(m.raw)?.[1])).toEqual(['<0f3a9c@example.com>', '<0f3a9c@example.com>', '<77b1e2@example.com>']);
  });

  it('makes the Message-ID at an internationalized sender domain in its ASCII form, as nodemailer writes From', async () => {
    await start(undefined, undefined, 100, 'Bücher <ops@bücher.example>');
    const receipt = await provider.send({ to: TO, subject: 'Your order shipped', text: 'x', messageKey: '0f3a9c' });
    expect(receipt.providerMessageId).toBe('<0f3a9c@xn--bcher-kva.example>');
    expect(/^Message-ID: (.*)$/im.exec(server.mails[0]!.raw)?.[1]).toBe('<0f3a9c@xn--bcher-kva.example>');
  });

  it('keeps one pooled connection for many mails', async () => {
    await start();
    await Promise.all(Array.from({ length: 5 }, (_, index) => provider.send({ to: TO, subject: `n${index}`, text: 'x' })));
    expect(server.mails).toHaveLength(5);
    expect(server.connections).toBe(1);
  });

  it('starts a mail’s timeout when a pooled connection takes it, not while it waits for one', async () => {
    // One connection and a slow server: the twelfth mail waits 2.2 s for the connection. Timed from the
    // call it would fail (and be sent anyway, then again on its retry); timed from its turn it goes once.
    await start(undefined, 2_000);
    server.dataDelayMs = 200;
    const sent = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => provider.send({ to: TO, subject: `m${i}`, text: 'x' })));
    expect(sent.filter((s) => s.status === 'rejected')).toEqual([]);
    expect(server.mails).toHaveLength(12);
  });

  it('abandons a mail that timed out before its DATA ended, so it is not sent besides its retry', async () => {
    // One pooled connection; the server takes 1.5 s over RCPT TO and the mail times out after 0.3 s.
    // Left running, the pool would finish the timed-out mail on that connection before the next one.
    await start(undefined, 300);
    server.recipientDelayMs = 1_500;
    expect(await failureOf(provider.send({ to: TO, subject: 'timed out', text: 'x' }))).toMatchObject({ kind: 'transient', code: 'timeout' });
    server.recipientDelayMs = 0;
    await provider.send({ to: TO, subject: 'next', text: 'x' });
    expect(server.mails.map((mail) => /^Subject: (.*)$/im.exec(mail.raw)?.[1])).toEqual(['next']);
  });

  it('takes a server that refuses the session itself for this installation’s problem, not the mail’s', async () => {
    await start();
    server.refuseConnections = { code: 554, message: 'Your IP is on a blocklist' };
    expect(await failureOf(provider.send({ to: TO, subject: 's', text: 'x' }))).toMatchObject({ kind: 'configuration', code: 'misconfigured', status: 554 });
    expect(server.mails).toHaveLength(0);
    server.refuseConnections = undefined;
    await provider.send({ to: TO, subject: 'after', text: 'x' });
    expect(server.mails).toHaveLength(1);
  });

  it('maps a 5xx recipient rejection to a permanent error', async () => {
    await start();
    server.rejectRecipient(TO, 550, 'Mailbox unavailable');
    expect(await failureOf(provider.send({ to: TO, subject: 's', text: 'x' }))).toMatchObject({ kind: 'permanent', code: 'invalid_endpoint', status: 550 });
    expect(server.mails).toHaveLength(0);
  });

  it('maps a refused sender or a relay denied to a configuration error, not to a bad address', async () => {
    await start();
    server.rejectRecipient(TO, 554, '5.7.1 Relaying denied');
    expect(await failureOf(provider.send({ to: TO, subject: 's', text: 'x' }))).toMatchObject({ kind: 'configuration', code: 'misconfigured', status: 554 });
    server.rejectSender('notify@example.com', 553, '5.1.8 Sender address rejected');
    expect(await failureOf(provider.send({ to: 'someone.else@example.org', subject: 's', text: 'x' }))).toMatchObject({ kind: 'configuration', code: 'misconfigured', status: 553 });
    expect(server.mails).toHaveLength(0);
  });

  it('takes a refusal of the sender, the client or relaying given at RCPT TO for a configuration error', async () => {
    // Postfix gives its client, HELO and sender restrictions in answer to RCPT TO.
    await start();
    const refusals: [number, string][] = [
      [553, '5.1.8 <notify@example.com>: Sender address rejected: Domain not found'],
      [554, '5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.example.org'],
      [550, '5.7.1 Client host rejected: cannot find your hostname, [127.0.0.1]'],
      [554, 'Sender address rejected: not owned by user notify'],
      [550, 'relay not permitted'],
      [554, '5.7.1 <alice@example.com>: Relay access denied'],
      [550, '5.7.54 SMTP; Unable to relay recipient in non-accepted domain'],
      [550, '5.7.0 Mail relay denied [203.0.113.7]. Invalid credentials for relay for one of the domains in: example.com'],
      [554, 'Relay rejected for policy reasons'],
      [553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"],
    ];
    for (const [code, message] of refusals) {
      server.rejectRecipient(TO, code, message);
      expect(await failureOf(provider.send({ to: TO, subject: 's', text: 'x' }))).toMatchObject({ kind: 'configuration', code: 'misconfigured', status: code });
    }
    // An address, a relay's table or a host that merely contains the word is the recipient's.
    const recipients: [string, string][] = [
      ['bob@relay.example.com', '5.1.1 <bob@relay.example.com>: Recipient address rejected: User unknown'],
      ['carl@corp.example', '5.1.1 <carl@corp.example>: Recipient address rejected: User unknown in relay recipient table'],
      ['dora@corp.example', '5.1.1 mailbox dora unknown at relay2.mx.example.net'],
    ];
    for (const [to, message] of recipients) {
      server.rejectRecipient(to, 550, message);
      expect(await failureOf(provider.send({ to, subject: 's', text: 'x' }))).toMatchObject({ kind: 'permanent', code: 'invalid_endpoint' });
    }
    expect(server.mails).toHaveLength(0);
  });

  it('takes a refusal at the end of DATA that blames the sender’s domain or the client for a configuration error, and one of the content for the message’s', async () => {
    // Gmail, OpenDMARC and milters judge DMARC, SPF, DKIM and the client only once the mail is in.
    await start();
    const refusals: [string, number, string][] = [
      ['dmarc-gmail', 550, "5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy"],
      ['dmarc-opendmarc', 550, '5.7.1 rejected by DMARC policy for example.com'],
      ['spf-fail', 550, '5.7.23 The message was rejected because of Sender Policy Framework violation'],
      ['dkim-fail', 550, '5.7.1 Message rejected: DKIM signature verification failed'],
      ['milter-block', 554, '5.7.1 Client host [127.0.0.1] blocked using zen.example.org'],
    ];
    for (const [word, code, message] of refusals) {
      server.rejectText(word, code, message);
      expect(await failureOf(provider.send({ to: TO, subject: word, text: 'x' }))).toMatchObject({ kind: 'configuration', code: 'misconfigured', status: code });
    }
    server.rejectText('buy-now', 554, '5.7.1 Message rejected: spam content');
    expect(await failureOf(provider.send({ to: TO, subject: 'buy-now', text: 'x' }))).toMatchObject({ kind: 'permanent', code: 'rejected', status: 554 });
    expect(server.mails).toHaveLength(0);
  });

  it('defers a recipient a server answers with a 4xx, without opening the circuit for everyone else', async () => {
    await start(undefined, undefined, 3);
    server.rejectRecipient(TO, 450, '4.1.2 <alice@example.com>: Recipient address rejected: Domain not found');
    for (let i = 0; i < 5; i++) {
      expect(await failureOf(provider.send({ to: TO, subject: 's', text: 'x' }))).toMatchObject({ kind: 'transient', code: 'deferred', status: 450 });
    }
    await provider.send({ to: 'bob@example.org', subject: 'other domain', text: 'x' });
    expect(server.mails.map((mail) => mail.to)).toEqual([['bob@example.org']]);
  });

  it('puts off a full mailbox, even refused with a 5xx, rather than taking the address for a bad one', async () => {
    await start(undefined, undefined, 3);
    server.rejectRecipient(TO, 552, '5.2.2 <alice@example.com>: Recipient address rejected: Mailbox full');
    expect(await failureOf(provider.send({ to: TO, subject: 's', text: 'x' }))).toMatchObject({ kind: 'transient', code: 'deferred', status: 552 });
    server.rejectRecipient('bob@example.org', 552, 'Requested mail action aborted: exceeded storage allocation');
    expect(await failureOf(provider.send({ to: 'bob@example.org', subject: 's', text: 'x' }))).toMatchObject({ kind: 'transient', code: 'deferred', status: 552 });
    server.rejectText('over-quota', 552, '5.2.2 Quota exceeded (mailbox for user is full)');
    expect(await failureOf(provider.send({ to: 'carl@example.org', subject: 'over-quota', text: 'x' }))).toMatchObject({ kind: 'transient', code: 'deferred', status: 552 });
    // The end of DATA too long for the mail is the message's, not the mailbox's.
    server.rejectText('too-big', 552, '5.3.4 Message size exceeds fixed maximum message size');
    expect(await failureOf(provider.send({ to: 'carl@example.org', subject: 'too-big', text: 'x' }))).toMatchObject({ kind: 'permanent', code: 'rejected', status: 552 });
    expect(server.mails).toHaveLength(0);
  });

  it('takes a 4xx at RCPT TO that names the sender or the client for the server’s trouble, not the address’s', async () => {
    await start();
    server.rejectRecipient(TO, 450, '4.1.8 <notify@example.com>: Sender address rejected: Domain not found');
    expect(await failureOf(provider.send({ to: TO, subject: 's', text: 'x' }))).toMatchObject({ kind: 'transient', code: 'unavailable', status: 450 });
    server.rejectRecipient(TO, 450, '4.7.25 Client host rejected: cannot find your hostname, [127.0.0.1]');
    expect(await failureOf(provider.send({ to: TO, subject: 's', text: 'x' }))).toMatchObject({ kind: 'transient', code: 'unavailable', status: 450 });
  });

  it('takes a temporary login failure for a transient error, not for wrong credentials', async () => {
    await start();
    server.authFailure = { code: 454, message: '4.7.0 Temporary authentication failure' };
    expect(await failureOf(provider.send({ to: TO, subject: 's', text: 'x' }))).toMatchObject({ kind: 'transient', code: 'unavailable', status: 454 });
    server.authFailure = undefined;
    await provider.send({ to: TO, subject: 'after', text: 'x' });
    expect(server.mails).toHaveLength(1);
  });

  it('maps a refused login to a configuration error, logged without the password or address', async () => {
    await start('wrong-password-123');
    const failure = await failureOf(provider.send({ to: TO, subject: 's', text: 'x' }));
    expect(failure).toMatchObject({ kind: 'configuration', code: 'bad_credentials', vendorCode: 'EAUTH' });
    expect(log.text).toContain('provider_configuration');
    expect(log.text).not.toContain('wrong-password-123');
    expect(log.text).not.toContain(TO);
  });

  it('takes a relay whose certificate does not verify for a configuration error, not a network failure', async () => {
    await start(undefined, undefined, 100, undefined, true);
    const failure = await failureOf(provider.send({ to: TO, subject: 's', text: 't' }));
    expect(failure).toMatchObject({ kind: 'configuration', code: 'misconfigured' });
    expect(server.mails).toEqual([]);
  });

  it('refuses something that is not an address without connecting', async () => {
    await start();
    expect(await failureOf(provider.send({ to: 'not an address', subject: 's', text: 'x' }))).toMatchObject({ kind: 'permanent', code: 'invalid_endpoint' });
    expect(server.connections).toBe(0);
  });
});
