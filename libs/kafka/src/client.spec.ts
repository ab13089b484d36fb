import type { DestinationStream } from 'pino';
import { createLogger } from '@notify/observability';
import { createKafka } from './client';

describe('createKafka', () => {
  function logged(): { lines: { level: number; msg: string; component: string }[]; log: ReturnType<ReturnType<typeof createKafka>['logger']> } {
    const lines: { level: number; msg: string; component: string }[] = [];
    const capture: DestinationStream = { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) };
    const kafka = createKafka('client-spec', { kafkaBrokers: ['127.0.0.1:1'], kafkaSsl: false }, createLogger('client-spec', 'info', capture));
    return { lines, log: kafka.logger() };
  }

  it('logs an error answer of the broker, which kafkajs throws to its caller, as a warning', () => {
    const { lines, log } = logged();
    log.error('Response GroupCoordinator(key: 10, version: 2)', { error: 'The group coordinator is not available', correlationId: 2 });
    expect(lines).toEqual([expect.objectContaining({ level: 40, msg: 'Response GroupCoordinator(key: 10, version: 2)', component: 'kafkajs' })]);
  });

  it('logs kafkajs’s other errors as errors, and drops its debug lines', () => {
    const { lines, log } = logged();
    log.error('Crash: KafkaJSNumberOfRetriesExceeded', { error: 'Connection error' });
    log.warn('Consumer group rebalancing', {});
    log.debug('Request Metadata(key: 3, version: 6)', {});
    expect(lines.map((line) => [line.level, line.msg])).toEqual([
      [50, 'Crash: KafkaJSNumberOfRetriesExceeded'],
      [40, 'Consumer group rebalancing'],
    ]);
  });

  it('logs an error kafkajs gives as the message itself (a refused SASL login) by its text, through the error serializer', () => {
    const { lines, log } = logged();
    const refusal = Object.assign(new Error('SASL PLAIN authentication failed: Authentication failed'), { type: 'SASL_AUTHENTICATION_FAILED' });
    (log.error as (message: unknown, extra: object) => void)(refusal, { retryCount: 0, retryTime: 300 });
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        msg: 'SASL PLAIN authentication failed: Authentication failed',
        component: 'kafkajs',
        error: expect.objectContaining({ type: 'Error', message: 'SASL PLAIN authentication failed: Authentication failed' }),
      }),
    ]);
  });
});
