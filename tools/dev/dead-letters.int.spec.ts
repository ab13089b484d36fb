import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs';
import { Topics } from '@notify/contracts';
import { cutDownDeadLetterMessage, deadLetterMessage, deadLetterTopic, ensureTopics } from '@notify/kafka';
import { eventually } from '@notify/testing';
import { main } from './dead-letters';

const kafka = new Kafka({ clientId: 'dead-letters-tool-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });

interface Run {
  code: number;
  out: string;
  err: string;
}

async function deadLetters(...args: string[]): Promise<Run> {
  const run = { out: '', err: '' };
  const code = await main(args, { write: (text: string) => (run.out += text) }, { write: (text: string) => (run.err += text) });
  return { code, ...run };
}

interface Read {
  key: string;
  value: string;
  headers: Record<string, string>;
  timestamp: string;
}

/** Every record of the topic up to its end now, read by a consumer group of its own. */
async function recordsOn(topic: string): Promise<Read[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const unread = new Map(ends.filter((end) => Number(end.high) > Number(end.low)).map((end) => [end.partition, Number(end.high)]));
  const records: Read[] = [];
  if (unread.size === 0) return records;
  const consumer = kafka.consumer({ groupId: `dead-letters-tool-${randomBytes(4).toString('hex')}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]));
      records.push({ key: String(message.key), value: String(message.value), headers, timestamp: message.timestamp });
      if (Number(message.offset) + 1 >= (unread.get(partition) ?? 0)) unread.delete(partition);
    },
  });
  try {
    await eventually(async () => unread.size, (n) => n === 0);
    return records;
  } finally {
    await consumer.disconnect();
  }
}

/** When the dead-lettered records were first produced: a minute before the test. */
const PRODUCED_AT = String(Date.now() - 60_000);

/** The dead-letter copy the message center makes of a record of `source`. */
function copyOf(source: string, offset: number, code: string, key: string, value: string, headers: Record<string, string> = {}): Message {
  return deadLetterMessage({ record: { topic: source, partition: 0, offset: String(offset), key: Buffer.from(key), value: Buffer.from(value), headers, timestamp: PRODUCED_AT }, code, reason: `reason of ${key}` });
}

/** A fresh source topic, with its dead-letter topic (three partitions) holding `copies`. */
async function deadLetterTopicWith(copies: (source: string) => Message[]): Promise<{ source: string; dlq: string }> {
  const source = `spec.dlt.${randomBytes(4).toString('hex')}`;
  const dlq = deadLetterTopic(source);
  await ensureTopics(kafka, [source], { partitions: 1, replicationFactor: 1 });
  await ensureTopics(kafka, [dlq], { partitions: 3, replicationFactor: 1 });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({ topic: dlq, messages: copies(source) }).finally(() => producer.disconnect());
  return { source, dlq };
}

const request = (id: string, to: Record<string, string>) => JSON.stringify({ id, type: 'order.shipped', to });

/** Two unknown types, a schema violation and a record that is no JSON; their values hold emails and a phone number. */
const mixed = (source: string) => [
  copyOf(source, 10, 'unknown_type', 'u-1', request('req-1', { email: 'alice@example.com' }), { 'trace-id': 't-1' }),
  copyOf(source, 11, 'unknown_type', 'u-2', request('req-2', { phone: '+15550001111' }), { 'trace-id': 't-2', baggage: 'b' }),
  copyOf(source, 12, 'schema_violation', 'u-3', request('req-3', { email: 'bob@example.com' }), { 'trace-id': 't-3' }),
  copyOf(source, 13, 'invalid_json', 'u-4', '{"id": "req-4", "to": {"email": "carol@example.com"'),
];

describe('npm run dead-letters', () => {
  it('lists the codes and a line per record, never anything of a value but its request id', async () => {
    const { source, dlq } = await deadLetterTopicWith(mixed);

    const all = await deadLetters('list', dlq);
    expect(all).toMatchObject({ code: 0, err: '' });
    expect(all.out).toContain(`4 record(s) in ${dlq}`);
    expect(all.out).toMatch(/^ {2}unknown_type: 2$/m);
    expect(all.out).toMatch(/^ {2}schema_violation: 1$/m);
    expect(all.out).toMatch(/^ {2}invalid_json: 1$/m);
    expect(all.out).toMatch(new RegExp(`from ${source.replaceAll('.', '\\.')}/0/10  unknown_type  id=req-1  reason of u-1$`, 'm'));
    expect(all.out).toMatch(/from \S+\/0\/13 {2}invalid_json {2}reason of u-4$/m);
    expect(all.out).not.toMatch(/example\.com|5550001111|order\.shipped|req-4/);

    const violations = await deadLetters('list', dlq, '--code', 'schema_violation', '--limit', '5');
    expect(violations.out.split('\n').filter((line) => line.includes(' from '))).toEqual([expect.stringContaining('schema_violation  id=req-3')]);
    expect(violations.out).toContain('1 record(s)');

    const future = await deadLetters('list', dlq, '--since', new Date(Date.now() + 60_000).toISOString());
    expect(future.out).toContain('0 record(s)');
  });

  it('replays the selected records to their topic, key, value and own headers as they were, and again when run again', async () => {
    const { source, dlq } = await deadLetterTopicWith(mixed);

    const run = await deadLetters('replay', dlq, '--code', 'unknown_type');

    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toContain(`replayed 2 record(s) from ${dlq}`);
    expect(run.out).toMatch(/^ {2}unknown_type: 2$/m);
    const replayed = await recordsOn(source);
    expect(replayed.map(({ key, value, headers }) => ({ key, value, headers })).sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'u-1', value: request('req-1', { email: 'alice@example.com' }), headers: { 'trace-id': 't-1' } },
      { key: 'u-2', value: request('req-2', { phone: '+15550001111' }), headers: { 'trace-id': 't-2', baggage: 'b' } },
    ]);
    // A replayed request is stamped now: only a recipient update keeps its own time.
    expect(replayed.every((record) => record.timestamp !== PRODUCED_AT)).toBe(true);

    // Nothing committed: the second run reads the same records again.
    expect((await deadLetters('replay', dlq, '--code', 'unknown_type')).out).toContain('replayed 2 record(s)');
    expect((await recordsOn(source)).map((record) => record.key).sort()).toEqual(['u-1', 'u-1', 'u-2', 'u-2']);
  });

  it('replays nothing on a dry run, and only the offsets asked for', async () => {
    const { source, dlq } = await deadLetterTopicWith((topic) => mixed(topic).map((copy) => ({ ...copy, partition: 1 })));

    const dry = await deadLetters('replay', dlq, '--dry-run');
    expect(dry).toMatchObject({ code: 0, err: '' });
    expect(dry.out).toContain(`would replay 4 record(s) from ${dlq}`);
    expect(await recordsOn(source)).toEqual([]);

    const range = await deadLetters('replay', dlq, '--partition', '1', '--from-offset', '1', '--to-offset', '2');
    expect(range.out).toContain('replayed 2 record(s)');
    expect((await recordsOn(source)).map((record) => record.key).sort()).toEqual(['u-2', 'u-3']);
  });

  it('refuses a copy from another topic, without its topic or without its value, and replays the rest', async () => {
    const { source, dlq } = await deadLetterTopicWith((topic) => {
      const withoutTopic = copyOf(topic, 2, 'unknown_type', 'u-2', request('req-2', {}));
      delete withoutTopic.headers!['x-original-topic'];
      return [
        copyOf(topic, 1, 'unknown_type', 'u-1', request('req-1', {})),
        withoutTopic,
        copyOf('spec.dlt.elsewhere', 3, 'unknown_type', 'u-3', request('req-3', {})),
        cutDownDeadLetterMessage(copyOf(topic, 4, 'unknown_type', 'u-4', request('req-4', {}))),
      ];
    });

    const run = await deadLetters('replay', dlq);

    expect(run.code).toBe(1);
    expect(run.out).toContain('no x-original-topic header');
    expect(run.out).toContain('its x-original-topic is "spec.dlt.elsewhere", not this dead-letter topic\'s source');
    expect(run.out).toContain(`the copy does not hold the value (x-original-value-bytes); the record is at offset 4 of ${source}`);
    expect(run.out).toContain('replayed 1 record(s)');
    expect((await recordsOn(source)).map((record) => record.key)).toEqual(['u-1']);
  });

  it('gives a replayed recipient update its own time', async () => {
    await ensureTopics(kafka, [Topics.recipients, Topics.recipientsDlq], { partitions: 3, replicationFactor: 1 });
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(Topics.recipientsDlq).finally(() => admin.disconnect());
    const from = ends.find((end) => end.partition === 0)!.high;
    const userId = `dead-letters-${randomBytes(4).toString('hex')}`;
    const update = JSON.stringify({ op: 'upsert', userId, email: 'dave@example.com' });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer
      .send({ topic: Topics.recipientsDlq, messages: [{ ...copyOf(Topics.recipients, 5, 'storage_refused', userId, update), partition: 0 }] })
      .finally(() => producer.disconnect());

    const run = await deadLetters('replay', Topics.recipientsDlq, '--partition', '0', '--from-offset', from);

    expect(run.out).toContain('replayed 1 record(s)');
    const replayed = (await recordsOn(Topics.recipients)).filter((record) => record.key === userId);
    expect(replayed.map(({ value, headers, timestamp }) => ({ value, headers, timestamp }))).toEqual([{ value: update, headers: {}, timestamp: PRODUCED_AT }]);
  });

  it('prints its usage on help', async () => {
    const run = await deadLetters('help');
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toContain('replaying twice produces every record twice');
  });

  it.each([
    [['purge', 'notify.requests.dlq'], 'unknown command "purge"'],
    [['list', 'notify.requests'], 'notify.requests is not a dead-letter topic'],
    [['replay', 'notify.requests.dlq', '--since', 'yesterday'], '--since must be an ISO 8601 date'],
    // Without its zone a time would be read in this machine's, hours from the UTC times `list` prints.
    [['replay', 'notify.requests.dlq', '--until', '2026-05-01T08:00'], '--until must be an ISO 8601 date, or date-time with its zone'],
    [['replay', 'notify.requests.dlq', '--from-offset', '-1'], '--from-offset must be a whole number'],
    [['replay', 'notify.requests.dlq', '--from-offset', '3'], '--from-offset and --to-offset need --partition'],
    [['list', 'notify.requests.dlq', '--dry-run'], 'unexpected argument "--dry-run"'],
  ])('exits 2 with the usage for %j', async (args, message) => {
    const run = await deadLetters(...args);
    expect(run).toMatchObject({ code: 2, out: '' });
    expect(run.err).toContain(message);
    expect(run.err).toContain('usage: npm run dead-letters');
  });
});
