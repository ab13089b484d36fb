import { randomUUID } from 'node:crypto';
import { CompressionTypes, Partitioners, type IHeaders, type Kafka, type KafkaMessage, type Message } from 'kafkajs';
import pino from 'pino';
import { kafkaSettings, loadConfig, saslComplete } from '@notify/config';
import { DlqHeaders, RequestIdSchema, Topics } from '@notify/contracts';
import { createKafka, deadLetterTopic, isDeadLetterTopic, ORIGINAL_TIMESTAMP, ORIGINAL_VALUE_BYTES } from '@notify/kafka';
import { createLogger } from '@notify/observability';
import { zonedInstant } from './instants';

const USAGE = `usage: npm run dead-letters -- <command>
  help                      this text
  list <dlq-topic> [--code C] [--since ISO] [--limit N]
      how many records per x-error-code, then one line per record (the first N, 100 by default):
      partition/offset, when dead-lettered, where it came from, code, request id, reason (never the value)
  replay <dlq-topic> [--code C] [--since ISO] [--until ISO] [--partition P [--from-offset O] [--to-offset O]] [--dry-run]
      produces each selected record's key, value and own headers back to its x-original-topic
      (a notify.recipients update with its x-original-timestamp), and counts them per code
--since and --until (exclusive) select by when a record was dead-lettered; --from-offset and --to-offset
(inclusive) are offsets of the dead-letter topic's partition P. Both read the topic up to its end when
the command starts and commit nothing: replaying twice produces every record twice. A request whose id
was stored already (within the retention period) makes nothing new; a recipient update is applied again
with its own time, so it takes no push token from a newer registration. A copy without its value, from
another topic or without x-original-topic is refused (exit 1). Brokers: KAFKA_BROKERS, KAFKA_SSL, KAFKA_SASL_*.`;

class UsageError extends Error {}

type Flags = Map<string, string | true>;

interface Selection {
  code?: string;
  since?: number;
  until?: number;
  partition?: number;
  fromOffset?: number;
  toOffset?: number;
}

type Command = { name: 'list'; topic: string; selection: Selection; limit: number } | { name: 'replay'; topic: string; selection: Selection; dryRun: boolean };

/** A record of a dead-letter topic, as consumed. */
interface DeadLetter {
  partition: number;
  offset: string;
  message: KafkaMessage;
}

interface Output {
  write(text: string): unknown;
}

/** What a command prints, and how many records it refused. */
interface Report {
  lines: string[];
  refused: number;
}

/** `npm run dead-letters -- list|replay`: what a dead-letter topic holds, and sending it back. Returns the exit code. */
export async function main(args: string[], out: Output = process.stdout, errors: Output = process.stderr): Promise<number> {
  if (args[0] === 'help' || args[0] === '--help') {
    out.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const command = parseCommand(args);
    const config = loadConfig('dead-letters', kafkaSettings, process.env, [saslComplete]);
    // Its log on stderr: stdout is the tool's answer.
    const kafka = createKafka('dead-letters', config, createLogger('dead-letters', 'error', pino.destination(2)));
    const report = command.name === 'list' ? await list(kafka, command) : await replay(kafka, command);
    out.write(report.lines.map((line) => `${line}\n`).join(''));
    return report.refused > 0 ? 1 : 0;
  } catch (error) {
    errors.write(`${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof UsageError) errors.write(`${USAGE}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

async function list(kafka: Kafka, { topic, selection, limit }: Extract<Command, { name: 'list' }>): Promise<Report> {
  const counts = new CodeCounts();
  const shown: string[] = [];
  await readDeadLetters(kafka, topic, selection, async (record) => {
    counts.add(record.message);
    if (shown.length < limit) shown.push(describe(record));
  });
  const hidden = counts.total > shown.length ? [`… ${counts.total - shown.length} more not shown (--limit)`] : [];
  return { lines: [`${counts.total} record(s) in ${topic}`, ...counts.lines(), ...shown, ...hidden], refused: 0 };
}

async function replay(kafka: Kafka, { topic, selection, dryRun }: Extract<Command, { name: 'replay' }>): Promise<Report> {
  const counts = new CodeCounts();
  const refusals: string[] = [];
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await readDeadLetters(kafka, topic, selection, async (record) => {
      const original = replayOf(topic, record.message);
      if (typeof original === 'string') {
        refusals.push(`refused ${record.partition}/${record.offset}: ${original}`);
        return;
      }
      if (!dryRun) await producer.send({ topic: original.topic, messages: [original.message], compression: CompressionTypes.GZIP });
      counts.add(record.message);
    });
  } catch (error) {
    // Which records went back decides where to start again (--partition, --from-offset).
    throw new Error(`replay stopped after ${counts.total} record(s): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    await producer.disconnect();
  }
  const summary = [`${dryRun ? 'would replay' : 'replayed'} ${counts.total} record(s) from ${topic}`, ...counts.lines()];
  return { lines: [...refusals, ...summary, ...(refusals.length > 0 ? [`refused ${refusals.length} record(s)`] : [])], refused: refusals.length };
}

/** How many records of each `x-error-code`. */
class CodeCounts {
  private readonly perCode = new Map<string, number>();
  total = 0;

  add(message: KafkaMessage): void {
    const code = oneLine(header(message.headers, DlqHeaders.errorCode) ?? '(none)');
    this.perCode.set(code, (this.perCode.get(code) ?? 0) + 1);
    this.total++;
  }

  lines(): string[] {
    return [...this.perCode].map(([code, n]) => `  ${code}: ${n}`);
  }
}

/** The record to produce for a dead-letter copy, or why it cannot be replayed. */
function replayOf(dlqTopic: string, copy: KafkaMessage): { topic: string; message: Message } | string {
  const topic = header(copy.headers, DlqHeaders.originalTopic);
  if (!topic) return `no ${DlqHeaders.originalTopic} header`;
  if (deadLetterTopic(topic) !== dlqTopic) return `its ${DlqHeaders.originalTopic} is "${oneLine(topic)}", not this dead-letter topic's source`;
  // A copy the dead-letter topic refused whole was written without its value: the record is still on its topic.
  if (header(copy.headers, ORIGINAL_VALUE_BYTES) !== undefined) return `the copy does not hold the value (${ORIGINAL_VALUE_BYTES}); the record is at offset ${oneLine(header(copy.headers, DlqHeaders.originalOffset) ?? '?')} of ${topic}`;
  const message: Message = { key: copy.key, value: copy.value, headers: ownHeaders(copy.headers) };
  if (topic !== Topics.recipients) return { topic, message };
  // The contract: a replayed recipient update keeps its own time, which decides which registration holds a push token.
  const timestamp = header(copy.headers, ORIGINAL_TIMESTAMP);
  if (!timestamp || !/^\d+$/.test(timestamp)) return `no ${ORIGINAL_TIMESTAMP} header: the update's own time is unknown`;
  return { topic, message: { ...message, timestamp } };
}

/** The headers the record's producer wrote: the copy's without the dead-letter ones (`x-error-*`, `x-original-*`). */
function ownHeaders(headers: IHeaders | undefined): IHeaders {
  const empty = Buffer.alloc(0);
  return Object.fromEntries(
    Object.entries(headers ?? {})
      .filter(([name]) => !name.startsWith('x-error-') && !name.startsWith('x-original-'))
      // kafkajs reads a header without a value as null and cannot write one back.
      .map(([name, value]) => [name, Array.isArray(value) ? value.map((v) => v ?? empty) : (value ?? empty)]),
  );
}

/** One line of `list`: where the record is and why it was refused, its request id when the value is a request; never the value. */
function describe({ partition, offset, message }: DeadLetter): string {
  const at = new Date(Number(message.timestamp)).toISOString();
  const text = (name: string, absent = '?') => oneLine(header(message.headers, name) ?? absent);
  const from = `${text(DlqHeaders.originalTopic)}/${text(DlqHeaders.originalPartition)}/${text(DlqHeaders.originalOffset)}`;
  const id = requestId(message.value);
  return [`${partition}/${offset}`, at, `from ${from}`, text(DlqHeaders.errorCode, '(none)'), ...(id ? [`id=${id}`] : []), text(DlqHeaders.errorReason, '')].join('  ');
}

/** The value's `id` when the value is JSON and the id is shaped as a request id; nothing else of the value is read. */
function requestId(value: Buffer | null): string | undefined {
  try {
    const id: unknown = (JSON.parse(value?.toString() ?? '') as { id?: unknown } | null)?.id;
    return RequestIdSchema.safeParse(id).success ? (id as string) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Calls `each` with every record of the topic that `selection` picks, in offset order per partition,
 * from the start of each partition (or `fromOffset`) up to the end it had when this was called. A
 * consumer group of its own that commits nothing: another run reads the same records again.
 */
async function readDeadLetters(kafka: Kafka, topic: string, selection: Selection, each: (record: DeadLetter) => Promise<void>): Promise<void> {
  const ends = await endOffsets(kafka, topic);
  if (selection.partition !== undefined && !ends.some((end) => end.partition === selection.partition)) {
    throw new UsageError(`${topic} has no partition ${selection.partition} (it has ${ends.length})`);
  }
  // The last offset to read of each partition that has something to read.
  const lastOffsets = new Map<number, number>();
  for (const { partition, low, high } of ends) {
    if (selection.partition !== undefined && partition !== selection.partition) continue;
    const last = Math.min(Number(high) - 1, selection.toOffset ?? Infinity);
    if (last >= Math.max(Number(low), selection.fromOffset ?? 0)) lastOffsets.set(partition, last);
  }
  if (lastOffsets.size === 0) return;

  const consumer = kafka.consumer({ groupId: `dead-letters-${randomUUID()}`, allowAutoTopicCreation: false });
  let finish!: () => void;
  let fail!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => ((finish = resolve), (fail = reject)));
  // Awaited once the consumer runs: a failure before then is not an unhandled rejection meanwhile.
  done.catch(() => undefined);
  let failed = false;
  consumer.on(consumer.events.CRASH, ({ payload }) => fail(payload.error));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const last = lastOffsets.get(partition);
        // A partition not selected, or read to its end: fetched no more.
        if (last === undefined) return consumer.pause([{ topic, partitions: [partition] }]);
        const offset = Number(message.offset);
        if (failed || offset < (selection.fromOffset ?? 0) || offset > last) return;
        try {
          if (selected(message, selection)) await each({ partition, offset: message.offset, message });
        } catch (error) {
          failed = true;
          return fail(error);
        }
        if (offset < last) return;
        lastOffsets.delete(partition);
        if (lastOffsets.size === 0) finish();
      },
    });
    // kafkajs takes a seek once the consumer runs; records before it are skipped above until it applies.
    if (selection.fromOffset !== undefined) consumer.seek({ topic, partition: selection.partition!, offset: String(selection.fromOffset) });
    await done;
  } finally {
    await consumer.disconnect();
  }
}

async function endOffsets(kafka: Kafka, topic: string): Promise<{ partition: number; low: string; high: string }[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) throw new Error(`there is no topic ${topic}`);
    return await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
}

function selected(message: KafkaMessage, { code, since, until }: Selection): boolean {
  const time = Number(message.timestamp);
  return (code === undefined || header(message.headers, DlqHeaders.errorCode) === code) && (since === undefined || time >= since) && (until === undefined || time < until);
}

function header(headers: IHeaders | undefined, name: string): string | undefined {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === null ? undefined : first.toString();
}

/** A header's text on one line: a control character (a line break) could forge another line of the output. */
function oneLine(text: string): string {
  return text.replace(/\p{Cc}/gu, ' ');
}

function parseCommand(args: string[]): Command {
  const [name, topic, ...rest] = args;
  if (name !== 'list' && name !== 'replay') throw new UsageError(`unknown command "${name ?? ''}"`);
  if (!topic || topic.startsWith('--')) throw new UsageError(`${name} needs a dead-letter topic`);
  if (!isDeadLetterTopic(topic)) throw new UsageError(`${topic} is not a dead-letter topic (its name ends in .dlq)`);
  if (name === 'list') {
    const flags = parseFlags(rest, ['code', 'since', 'limit'], []);
    const limit = flags.has('limit') ? wholeNumber(flags, 'limit') : 100;
    if (limit === 0) throw new UsageError('--limit must be at least 1');
    return { name, topic, selection: parseSelection(flags), limit };
  }
  const flags = parseFlags(rest, ['code', 'since', 'until', 'partition', 'from-offset', 'to-offset'], ['dry-run']);
  return { name, topic, selection: parseSelection(flags), dryRun: flags.has('dry-run') };
}

function parseSelection(flags: Flags): Selection {
  const selection: Selection = {};
  if (flags.has('code')) selection.code = flags.get('code') as string;
  if (flags.has('since')) selection.since = instant(flags, 'since');
  if (flags.has('until')) selection.until = instant(flags, 'until');
  if (selection.since !== undefined && selection.until !== undefined && selection.since >= selection.until) throw new UsageError('--since must be before --until');
  if (flags.has('partition')) selection.partition = wholeNumber(flags, 'partition');
  if (flags.has('from-offset')) selection.fromOffset = wholeNumber(flags, 'from-offset');
  if (flags.has('to-offset')) selection.toOffset = wholeNumber(flags, 'to-offset');
  if ((selection.fromOffset !== undefined || selection.toOffset !== undefined) && selection.partition === undefined) throw new UsageError('--from-offset and --to-offset need --partition');
  if (selection.fromOffset !== undefined && selection.toOffset !== undefined && selection.fromOffset > selection.toOffset) throw new UsageError('--from-offset must not be past --to-offset');
  return selection;
}

function parseFlags(args: string[], withValue: string[], switches: string[]): Flags {
  const flags: Flags = new Map();
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!.replace(/^--/, '');
    if (!args[i]!.startsWith('--') || ![...withValue, ...switches].includes(name)) throw new UsageError(`unexpected argument "${args[i]}"`);
    if (flags.has(name)) throw new UsageError(`--${name} given twice`);
    if (switches.includes(name)) {
      flags.set(name, true);
      continue;
    }
    const value = args[++i];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return flags;
}

function instant(flags: Flags, name: string): number {
  const text = flags.get(name) as string;
  const time = zonedInstant(text);
  if (time === undefined) throw new UsageError(`--${name} must be an ISO 8601 date, or date-time with its zone (2026-05-01T08:00Z), not "${text}"`);
  return time;
}

function wholeNumber(flags: Flags, name: string): number {
  const text = flags.get(name) as string;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) throw new UsageError(`--${name} must be a whole number, not "${text}"`);
  return value;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
