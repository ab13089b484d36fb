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

  it('writes nothing below its level', () => {
    const { stream, lines } = capture();
    const logger = createLogger('spec', 'warn', stream);
    logger.info('quiet');
    logger.warn('loud');
    expect(lines().map((l) => JSON.parse(l).msg)).toEqual(['loud']);
  });
});
