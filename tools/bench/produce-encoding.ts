import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './quantiles';

/**
 * `npm run bench:produce-encoding`: the CPU kafkajs spends turning one produce call's messages into
 * its request — partitioning by key, encoding the records, checksumming the batch — with this
 * project's patch (D23) and without it, in one process, taking turns. The unpatched kafkajs of the
 * same version is fetched from the npm registry into a temporary folder. Before timing, both encode
 * the same calls and the requests are compared byte for byte. Messages are `notify.events` records
 * like the gateway's (about 340 bytes of JSON keyed by user id), `BENCH_MESSAGES` (500, one produce
 * call's worth in `sendInChunks`) per call over `BENCH_PARTITIONS` (3).
 */
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 500);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const CALLS_PER_ROUND = Number(process.env.BENCH_CALLS ?? 200);

interface Message {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer | (string | Buffer)[]>;
  timestamp?: string;
}
type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: Message }) => number;

/** The parts of kafkajs a produce call goes through, from a package folder. */
function encoderOf(root: string, partitioner?: Partitioner): (messages: Message[]) => Promise<Buffer> {
  /* eslint-disable @typescript-eslint/no-require-imports -- internal modules of a given package folder */
  const group = require(join(root, 'src/producer/groupMessagesPerPartition'));
  const topicData = require(join(root, 'src/producer/createTopicData'));
  const produce = require(join(root, 'src/protocol/requests/produce/v3/request'));
  const createRequest = require(join(root, 'src/protocol/request'));
  const partition: Partitioner = partitioner ?? require(root).Partitioners.DefaultPartitioner();
  /* eslint-enable @typescript-eslint/no-require-imports */
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));
  return async (messages) => {
    const perPartition = group({ topic: 'notify.events', partitionMetadata, messages, partitioner: partition });
    const data = topicData([{ topic: 'notify.events', partitions: Object.keys(perPartition).map(Number), messagesPerPartition: perPartition }]);
    const request = produce({ acks: -1, timeout: 30_000, compression: 0, topicData: data });
    return (await createRequest({ correlationId: 1, clientId: 'bench', request })).buffer as Buffer;
  };
}

function event(i: number): Message {
  const userId = `user-${i % 2_000}`;
  const value = { eventId: randomUUID(), deliveryId: randomUUID(), messageId: randomUUID(), requestId: randomUUID(), userId, channel: 'websocket', status: 'delivered', attempt: 1, error: null, at: new Date().toISOString() };
  return { key: userId, value: JSON.stringify(value) };
}

/** Messages of every shape the patch treats apart, for the byte-for-byte comparison. */
function shapes(n: number): Message[] {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 7 === 0 ? null : i % 5 === 0 ? Buffer.from(randomUUID()) : `user-${i % 300}-ключ`,
    value: i % 11 === 0 ? null : i % 3 === 0 ? Buffer.alloc(i % 900, i) : JSON.stringify({ i, text: 'ü€😀'.repeat(i % 40) }),
    ...(i % 4 === 0 ? { headers: { code: `E${i}`, repeated: ['a', Buffer.from([0, 255])] } } : {}),
    ...(i % 6 === 0 ? { timestamp: String(1_765_000_000_000 - i * 1_000) } : {}),
    ...(i % 13 === 0 ? { timestamp: String(1_765_000_000_000 - i * 5_000_000_000) } : {}),
  }));
}

async function main(): Promise<void> {
  const patchedRoot = join(__dirname, '../../node_modules/kafkajs');
  const { version } = JSON.parse(readFileSync(join(patchedRoot, 'package.json'), 'utf8')) as { version: string };
  const folder = mkdtempSync(join(tmpdir(), 'kafkajs-unpatched-'));
  try {
    const tarball = execFileSync('npm', ['pack', `kafkajs@${version}`, '--pack-destination', folder, '--silent'], { encoding: 'utf8' }).trim().split('\n').pop()!;
    execFileSync('tar', ['xzf', join(folder, tarball), '-C', folder]);
    const unpatchedRoot = join(folder, 'package');

    // Same bytes: with the clock held and keyless messages given one partition (kafkajs spreads them
    // from a random start), and with each package's own hash for keyed ones.
    const realNow = Date.now;
    Date.now = () => 1_765_000_000_000;
    const fixed = (root: string): Partitioner => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- the package's own hash
      const murmur2 = require(join(root, 'src/producer/partitioners/default/murmur2')) as (key: string | Buffer) => number;
      return ({ message }) => (message.key === null ? 0 : (murmur2(message.key) & 0x7fffffff) % PARTITIONS);
    };
    for (const n of [1, 7, 500, 3_000]) {
      const messages = shapes(n);
      const [a, b] = [await encoderOf(unpatchedRoot, fixed(unpatchedRoot))(messages), await encoderOf(patchedRoot, fixed(patchedRoot))(messages)];
      if (!a.equals(b)) throw new Error(`the patched kafkajs encodes ${n} messages differently (${b.length} bytes against ${a.length})`);
    }
    Date.now = realNow;
    console.log(`kafkajs ${version}: patched and unpatched produce requests identical, byte for byte (1, 7, 500 and 3,000 messages of every shape)`);

    const versions = [
      { name: 'unpatched', encode: encoderOf(unpatchedRoot) },
      { name: 'patched', encode: encoderOf(patchedRoot) },
    ];
    const calls = Array.from({ length: 20 }, (_, c) => Array.from({ length: MESSAGES }, (_, i) => event(c * MESSAGES + i)));
    const timings = new Map<string, number[]>(versions.map((v) => [v.name, []]));
    for (let round = -1; round < ROUNDS; round++) {
      for (const { name, encode } of versions) {
        const started = process.hrtime.bigint();
        for (let c = 0; c < CALLS_PER_ROUND; c++) await encode(calls[c % calls.length]!);
        const microsPerMessage = Number(process.hrtime.bigint() - started) / 1_000 / (CALLS_PER_ROUND * MESSAGES);
        // The first round warms both up and is not counted.
        if (round >= 0) timings.get(name)!.push(microsPerMessage);
      }
    }
    const [unpatched, patched] = versions.map((v) => median(timings.get(v.name)!));
    console.log('');
    console.log('| kafkajs | µs per message, median of rounds | rounds |');
    console.log('| --- | --- | --- |');
    for (const { name } of versions) console.log(`| ${name} | ${median(timings.get(name)!).toFixed(2)} | ${timings.get(name)!.map((t) => t.toFixed(2)).join(', ')} |`);
    console.log('');
    console.log(`unpatched / patched: ${(unpatched! / patched!).toFixed(1)}× the time per message`);
    console.log(`command: BENCH_MESSAGES=${MESSAGES} BENCH_PARTITIONS=${PARTITIONS} BENCH_ROUNDS=${ROUNDS} npm run bench:produce-encoding`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
