import { Writable } from 'node:stream';
import { createLogger } from './logger';

function capture(): { stream: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n') };
}

describe('createLogger', () => {
  it('never writes phone numbers, emails, push tokens or secrets, at any depth it is given them', () => {
    const { stream, lines } = capture();
    const logger = createLogger('spec', 'info', stream);
    logger.info(
      {
        phone: '+8613800000000',
        recipient: { email: 'a@example.com', device: { token: 'apns-device-token-123' } },
        config: { databaseUrl: 'postgres://user:pw@db/notify', apiKey: 'k-123' },
        requestId: 'order-1234',
      },
      'delivered',
    );
    const [line] = lines();
    for (const secret of ['+8613800000000', 'a@example.com', 'apns-device-token-123', 'user:pw', 'k-123']) {
      expect(line).not.toContain(secret);
    }
    expect(JSON.parse(line!)).toMatchObject({ app: 'spec', requestId: 'order-1234', phone: '[redacted]', msg: 'delivered' });
  });

  it('redacts them however deep, in arrays, and whatever the case or separators of their names, without changing what it was given', () => {
    const { stream, lines } = capture();
    const logger = createLogger('spec', 'info', stream);
    const fields = {
      job: { message: { data: { user: { contact: { phone: '+8613800000004' } } } } },
      recipients: [{ Phone: '+8613800000005', mobile: '+8613800000006' }, { email_address: 'b@example.com' }],
      device: { 'Push-Token': 'fcm-token-456' },
      count: 2,
    };
    logger.info(fields, 'planned');
    const [line] = lines();
    for (const secret of ['+8613800000004', '+8613800000005', '+8613800000006', 'b@example.com', 'fcm-token-456']) {
      expect(line).not.toContain(secret);
    }
    expect(JSON.parse(line!)).toMatchObject({ job: { message: { data: { user: { contact: { phone: '[redacted]' } } } } }, count: 2 });
    expect(fields.recipients[0]!.Phone).toBe('+8613800000005');
  });

  it('writes an error as its class, message, code and stack, never the statement parameters or failing row it carries', () => {
    const { stream, lines } = capture();
    const logger = createLogger('spec', 'info', stream);
    const failure = Object.assign(new Error('new row violates check constraint'), {
      code: '23514',
      query: 'INSERT INTO messages (recipient) VALUES ($1)',
      parameters: ['{"phone":"+8613800000001"}'],
      driverError: { detail: 'Failing row contains ({"email": "b@example.com"}).' },
      cause: Object.assign(new Error('socket closed'), { request: { body: 'token=apns-device-token-456' } }),
    });
    logger.error({ err: failure }, 'batch failed');
    logger.error({ component: 'kafkajs', error: failure }, 'batch failed');
    for (const line of lines()) {
      for (const secret of ['+8613800000001', 'b@example.com', 'apns-device-token-456', 'INSERT INTO']) expect(line).not.toContain(secret);
    }
    const [viaErr, viaError] = lines().map((l) => JSON.parse(l));
    expect(viaErr.err).toMatchObject({ type: 'Error', message: 'new row violates check constraint', code: '23514', cause: { message: 'socket closed' } });
    expect(viaError.error).toEqual(viaErr.err);
  });

  it('writes an error under any name and at any depth as it writes `err`, never the row or parameters it carries', () => {
    const { stream, lines } = capture();
    const logger = createLogger('spec', 'info', stream);
    const failure = Object.assign(new Error('duplicate key value violates unique constraint'), {
      code: '23505',
      detail: 'Key (email)=(a@b.example) already exists.',
      parameters: ['+8613800001234'],
    });
    const rejected = Object.assign(new Error('Message failed: 550 mailbox unavailable'), { response: '550 <c@d.example> unknown', rejected: ['c@d.example'] });
    logger.warn({ failure, attempts: [{ cause: rejected }] }, 'send failed');
    const [line] = lines();
    for (const secret of ['a@b.example', '+8613800001234', 'c@d.example']) expect(line).not.toContain(secret);
    expect(JSON.parse(line!)).toMatchObject({
      failure: { type: 'Error', message: 'duplicate key value violates unique constraint', code: '23505' },
      attempts: [{ cause: { message: 'Message failed: 550 mailbox unavailable' } }],
    });
  });

  it('hides settings and lists by how their names end, and keeps flags and ids that only resemble them', () => {
    const { stream, lines } = capture();
    const logger = createLogger('spec', 'info', stream);
    const config = {
      jwtSecret: 'jwt-secret-0123456789',
      smtpPassword: 'smtp-pw-0123',
      kafkaSaslPassword: 'sasl-pw-0123',
      twilioAuthToken: 'twilio-token-0123',
      aliyunAccessKeySecret: 'aliyun-secret-0123',
      apnsSigningKey: '-----BEGIN PRIVATE KEY-----apns',
      headers: { 'x-api-key': 'api-key-0123' },
      phones: ['+8613800002222', '+8613800003333'],
      pushTokens: ['fcm-token-0123'],
    };
    logger.info({ config, deactivateToken: true, deviceId: 'device-42', messageKey: 'order-7', partitionKey: 'user-9', aliyunAccessKeyId: 'LTAI-id' }, 'loaded');
    const [line] = lines();
    for (const secret of ['jwt-secret', 'smtp-pw', 'sasl-pw', 'twilio-token', 'aliyun-secret', 'PRIVATE KEY', 'api-key-0123', '+8613800002222', '+8613800003333', 'fcm-token-0123']) {
      expect(line).not.toContain(secret);
    }
    expect(JSON.parse(line!)).toMatchObject({
      config: { jwtSecret: '[redacted]', headers: { 'x-api-key': '[redacted]' }, phones: '[redacted]' },
      deactivateToken: true,
      deviceId: 'device-42',
      messageKey: 'order-7',
      partitionKey: 'user-9',
      aliyunAccessKeyId: 'LTAI-id',
    });
  });

  it('writes a chain of causes that loops back on itself a few causes deep, and goes on logging', () => {
    const { stream, lines } = capture();
    const logger = createLogger('spec', 'info', stream);
    const first = new Error('first');
    const second = new Error('second', { cause: first });
    first.cause = second;
    logger.warn({ failure: first }, 'looped');
    logger.info('after');
    const [looped, after] = lines().map((l) => JSON.parse(l));
    let depth = 0;
    for (let cause = looped.failure; cause.cause; cause = cause.cause) depth++;
    expect(depth).toBe(5);
    expect(looped.failure.cause.message).toBe('second');
    expect(after.msg).toBe('after');
  });

  it('writes nothing below its level', () => {
    const { stream, lines } = capture();
    const logger = createLogger('spec', 'warn', stream);
    logger.info('quiet');
    logger.warn('loud');
    expect(lines().map((l) => JSON.parse(l).msg)).toEqual(['loud']);
  });
});
