import { failureOf } from '../../../test/outcome';
import { RecordingLog } from '../../../test/recording-log';
import { createEmailProvider, createPushProvider, createSmsProvider } from '../../factories';

describe('log drivers', () => {
  it('accept a push and log only the masked token and the made-up id', async () => {
    const log = new RecordingLog();
    const token = 'f'.repeat(24) + 'abcd';
    const results = await createPushProvider(undefined, { log }).sendMany({ tokens: [token, token], content: { title: 'Secret title', body: 'Secret body' } });
    expect(results.map((result) => result.receipt?.providerMessageId)).toEqual([expect.stringMatching(/^log-/), expect.stringMatching(/^log-/)]);
    expect(log.lines).toHaveLength(2);
    expect(log.lines[0]?.fields).toMatchObject({ provider: 'log', channel: 'push', to: 'ffff…abcd' });
    expect(log.text).not.toContain(token);
    expect(log.text).not.toContain('Secret');
  });

  it('accept an SMS to an E.164 number, logging it masked and never the text', async () => {
    const log = new RecordingLog();
    const sms = createSmsProvider(undefined, { log });
    await sms.send({ to: '+8613800001234', body: 'Your code is 998877' });
    expect(log.lines[0]?.fields).toMatchObject({ channel: 'sms', to: '+86*********34' });
    expect(log.text).not.toContain('13800001234');
    expect(log.text).not.toContain('998877');
    expect(await failureOf(sms.send({ to: '13800001234', body: 'x' }))).toMatchObject({ code: 'invalid_endpoint' });
  });

  it('accept an email, logging the masked address and never the subject or body', async () => {
    const log = new RecordingLog();
    await createEmailProvider(undefined, { log }).send({ to: 'alice@example.com', subject: 'Password reset', text: 'Reset link' });
    expect(log.lines[0]?.fields).toMatchObject({ channel: 'email', to: 'a***@example.com' });
    expect(log.text).not.toContain('alice@');
    expect(log.text).not.toContain('Password reset');
  });
});
