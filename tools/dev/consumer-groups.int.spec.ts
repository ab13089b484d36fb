import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { Topics } from '@notify/contracts';
import { ensureTopics } from '@notify/kafka';
import { eventually } from '@notify/testing';
import { main } from './consumer-groups';

const kafka = new Kafka({ clientId: 'consumer-groups-tool-spec', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });

const PLATFORM_TOPICS = [Topics.requests, Topics.recipients, Topics.events, ...Object.values(Topics.deliver)];

interface Run {
  code: number;
  out: string;
  err: string;
}

/** The platform's groups, under names of the test's own. */
interface Groups {
  env: NodeJS.ProcessEnv;
  messageCenter: string;
  recipients: string;
  fallback: string;
  gateway: string;
  push: string;
  sms: string;
  email: string;
}

function freshGroups(): Groups {
  const prefix = `spec.cg.${randomBytes(4).toString('hex')}`;
  const names = { messageCenter: `${prefix}.mc`, gateway: `${prefix}.gateway`, push: `${prefix}.push`, sms: `${prefix}.sms`, email: `${prefix}.email` };
  const env = {
    ...process.env,
    MESSAGE_CENTER_GROUP: names.messageCenter,
    GATEWAY_GROUP: names.gateway,
    CHANNEL_WORKER_PUSH_GROUP: names.push,
    CHANNEL_WORKER_SMS_GROUP: names.sms,
    CHANNEL_WORKER_EMAIL_GROUP: names.email,
  };
  return { env, ...names, recipients: `${names.messageCenter}.recipients`, fallback: `${names.messageCenter}.fallback` };
}

async function consumerGroups(groups: Groups, ...args: string[]): Promise<Run> {
  const run = { out: '', err: '' };
  const code = await main(args, { write: (text: string) => (run.out += text) }, { write: (text: string) => (run.err += text) }, groups.env);
  return { code, ...run };
}

async function withAdmin<T>(use: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

/** The group's committed offset per partition of the topic (-1: never committed). */
async function committed(groupId: string, topic: string): Promise<Record<number, number>> {
  const [offsets] = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
  return Object.fromEntries(offsets!.partitions.map((p) => [p.partition, Number(p.offset)]));
}

async function endOffsets(topic: string): Promise<Record<number, number>> {
  const ends = await withAdmin((admin) => admin.fetchTopicOffsets(topic));
  return Object.fromEntries(ends.map((end) => [end.partition, Number(end.high)]));
}

async function commit(groupId: string, topic: string, offsets: Record<number, number>): Promise<void> {
  await withAdmin((admin) => admin.setOffsets({ groupId, topic, partitions: Object.entries(offsets).map(([partition, offset]) => ({ partition: Number(partition), offset: String(offset) })) }));
}

interface Produced {
  /** The time between the two batches: after every record of the first, before every one of the second. */
  between: number;
  before: string[];
  after: string[];
  /** The offset of the first record of each batch, per partition it wrote to. */
  firstBefore: Record<number, number>;
  firstAfter: Record<number, number>;
}

/**
 * Two batches on the topic, one record per partition listed, with unique keys: the first stamped
 * `stamped` (now: after every record already there), the second 2 ms later; the time between them
 * is a millisecond after the first.
 */
async function twoBatches(topic: string, beforeTo: number[], afterTo: number[], stamped = Date.now()): Promise<Produced> {
  const tag = randomBytes(4).toString('hex');
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const send = async (name: string, partitions: number[], timestamp: number) => {
      const keys = partitions.map((_, i) => `${tag}-${name}-${i}`);
      const written = await producer.send({ topic, messages: partitions.map((partition, i) => ({ key: keys[i], value: '{}', partition, timestamp: String(timestamp) })) });
      return { keys, first: Object.fromEntries(written.map((meta) => [meta.partition, Number(meta.baseOffset)])) };
    };
    const before = await send('before', beforeTo, stamped);
    const after = await send('after', afterTo, stamped + 2);
    return { between: stamped + 1, before: before.keys, after: after.keys, firstBefore: before.first, firstAfter: after.first };
  } finally {
    await producer.disconnect();
  }
}

/** The keys a consumer of the group reads from its committed offsets up to the topic's end now. */
async function readAgain(groupId: string, topic: string): Promise<string[]> {
  const ends = await endOffsets(topic);
  const from = await committed(groupId, topic);
  const unread = new Map(Object.entries(ends).filter(([partition, end]) => from[Number(partition)]! < end).map(([partition, end]) => [Number(partition), end]));
  const keys: string[] = [];
  if (unread.size === 0) return keys;
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        keys.push(String(message.key));
        if (Number(message.offset) + 1 >= (unread.get(partition) ?? 0)) unread.delete(partition);
      },
    });
    await eventually(async () => unread.size, (n) => n === 0);
    return keys;
  } finally {
    await consumer.disconnect();
  }
}

/** A member of the group, running (it joined) until it is disconnected. */
async function runningMember(groupId: string, topic: string): Promise<Consumer> {
  const consumer = kafka.consumer({ groupId });
  const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
  await consumer.connect();
  await consumer.subscribe({ topics: [topic] });
  await consumer.run({ eachMessage: async () => undefined });
  await joined;
  return consumer;
}

const iso = (time: number) => new Date(time).toISOString();

beforeAll(async () => {
  await ensureTopics(kafka, PLATFORM_TOPICS, { partitions: 3, replicationFactor: 1 });
});

describe('npm run consumer-groups', () => {
  it('rewinds a group to the first record at or after the time, per partition, and its consumer reads exactly the later records again', async () => {
    const groups = freshGroups();
    const produced = await twoBatches(Topics.requests, [0, 0, 1], [0, 0, 2]);
    // The group consumed everything.
    const ends = await endOffsets(Topics.requests);
    await commit(groups.messageCenter, Topics.requests, ends);

    const run = await consumerGroups(groups, 'rewind', '--to', iso(produced.between), '--group', groups.messageCenter);

    expect(run).toMatchObject({ code: 0, err: '' });
    // Partition 1 has nothing after the time: its first offset at or after it is its end, where the group is.
    const expected = { 0: produced.firstAfter[0]!, 1: ends[1]!, 2: produced.firstAfter[2]! };
    expect(await committed(groups.messageCenter, Topics.requests)).toEqual(expected);
    expect(run.out).toContain(`${groups.messageCenter} on ${Topics.requests}:`);
    expect(run.out).toContain(`partition 0: ${ends[0]} → ${expected[0]}, 2 record(s) read again`);
    expect(run.out).toContain(`partition 1: stays at ${ends[1]}`);
    expect(run.out).toContain(`partition 2: ${ends[2]} → ${expected[2]}, 1 record(s) read again`);
    expect(run.out).toContain(`rewound 1 group(s) to ${iso(produced.between)}: 3 record(s) read again`);

    expect((await readAgain(groups.messageCenter, Topics.requests)).sort()).toEqual([...produced.after].sort());
  });

  it('never moves a group forward, and leaves a partition or a group that never committed alone', async () => {
    const groups = freshGroups();
    const produced = await twoBatches(Topics.recipients, [0, 1], [0, 1]);
    // Both partitions committed at the first batch's record: before the first record after the time.
    const early = { 0: produced.firstBefore[0]!, 1: produced.firstBefore[1]! };
    await commit(groups.recipients, Topics.recipients, early);
    const fallbackBefore = await committed(groups.fallback, Topics.events);

    const run = await consumerGroups(groups, 'rewind', '--to', iso(produced.between));

    expect(run).toMatchObject({ code: 0, err: '' });
    expect(await committed(groups.recipients, Topics.recipients)).toEqual({ ...early, 2: -1 });
    expect(run.out).toContain(`partition 0: stays at ${early[0]} (the first record at or after ${iso(produced.between)} is at ${produced.firstAfter[0]}; never moved forward)`);
    expect(run.out).toContain('partition 2: never committed, left alone');
    expect(fallbackBefore).toEqual({ 0: -1, 1: -1, 2: -1 });
    expect(await committed(groups.fallback, Topics.events)).toEqual(fallbackBefore);
    expect(run.out).toContain(`rewound 0 group(s)`);
  });

  it('refuses while a selected group has a running member, and changes no group', async () => {
    const groups = freshGroups();
    const stamped = Date.now();
    const requests = await twoBatches(Topics.requests, [0], [0], stamped);
    const emails = await twoBatches(Topics.deliver.email, [1], [1], stamped);
    const between = requests.between;
    const requestEnds = await endOffsets(Topics.requests);
    const emailEnds = await endOffsets(Topics.deliver.email);
    await commit(groups.messageCenter, Topics.requests, requestEnds);
    await commit(groups.email, Topics.deliver.email, emailEnds);
    const member = await runningMember(groups.email, Topics.deliver.email);
    try {
      const run = await consumerGroups(groups, 'rewind', '--to', iso(between));

      expect(run.code).toBe(1);
      expect(run.out).toBe('');
      expect(run.err).toMatch(new RegExp(`refused, nothing changed: stop the apps first .*${groups.email.replaceAll('.', '\\.')} is Stable with 1 running member\\(s\\)`));
      expect(run.err).not.toContain(groups.messageCenter);
      expect(await committed(groups.messageCenter, Topics.requests)).toEqual(requestEnds);
      expect(await committed(groups.email, Topics.deliver.email)).toEqual(emailEnds);

      // A dry run shows what a rewind would do, and that it would be refused.
      const dry = await consumerGroups(groups, 'rewind', '--to', iso(between), '--dry-run');
      expect(dry.code).toBe(1);
      expect(dry.out).toContain(`partition 0: ${requestEnds[0]} → ${requests.firstAfter[0]}, 1 record(s) read again`);
      expect(dry.err).toContain(`a rewind would be refused: stop the apps first`);
      expect(await committed(groups.messageCenter, Topics.requests)).toEqual(requestEnds);

      const listed = await consumerGroups(groups, 'list', '--group', groups.email);
      expect(listed.out).toContain(`${groups.email} on ${Topics.deliver.email}: Stable, 1 member(s), lag 0`);
    } finally {
      await member.disconnect();
    }

    // The member gone, the same command rewinds both groups.
    expect(await consumerGroups(groups, 'rewind', '--to', iso(between))).toMatchObject({ code: 0, err: '' });
    expect((await committed(groups.messageCenter, Topics.requests))[0]).toBe(requests.firstAfter[0]);
    expect((await committed(groups.email, Topics.deliver.email))[1]).toBe(emails.firstAfter[1]);
  });

  it('prints the plan and changes nothing on a dry run', async () => {
    const groups = freshGroups();
    const produced = await twoBatches(Topics.deliver.push, [2], [2, 2]);
    const ends = await endOffsets(Topics.deliver.push);
    await commit(groups.push, Topics.deliver.push, ends);

    const run = await consumerGroups(groups, 'rewind', '--to', iso(produced.between), '--group', groups.push, '--dry-run');

    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toContain(`partition 2: ${ends[2]} → ${produced.firstAfter[2]}, 2 record(s) read again`);
    expect(run.out).toContain(`dry run, nothing changed: 1 group(s) would be rewound to ${iso(produced.between)}, 2 record(s) read again`);
    expect(await committed(groups.push, Topics.deliver.push)).toEqual(ends);
  });

  it('lists the groups with their topic, state, members, committed offsets and lag', async () => {
    const groups = freshGroups();
    const produced = await twoBatches(Topics.deliver.sms, [0, 0], [0]);
    const ends = await endOffsets(Topics.deliver.sms);
    await commit(groups.sms, Topics.deliver.sms, { 0: produced.firstBefore[0]!, 1: ends[1]! });

    const run = await consumerGroups(groups, 'list');

    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toContain(`${groups.sms} on ${Topics.deliver.sms}: Empty, 0 member(s), lag 3, 1 partition(s) never committed\n`);
    expect(run.out).toContain(`  partition 0: committed ${produced.firstBefore[0]}, end ${ends[0]}, lag 3\n`);
    expect(run.out).toContain(`  partition 1: committed ${ends[1]}, end ${ends[1]}, lag 0\n`);
    expect(run.out).toContain(`  partition 2: never committed, end ${ends[2]}\n`);
    for (const [groupId, topic] of [
      [groups.messageCenter, Topics.requests],
      [groups.recipients, Topics.recipients],
      [groups.fallback, Topics.events],
      [groups.gateway, Topics.deliver.websocket],
      [groups.push, Topics.deliver.push],
      [groups.email, Topics.deliver.email],
    ]) {
      expect(run.out).toContain(`${groupId} on ${topic}: Dead, 0 member(s), never committed\n`);
    }
  });

  it('prints what it is for on help', async () => {
    const run = await consumerGroups(freshGroups(), 'help');
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toContain('usage: npm run consumer-groups');
    expect(run.out).toContain('restored from a backup');
    expect(run.out).toContain("only within Kafka's retention");
  });

  it.each([
    [['reset'], 'unknown command "reset"'],
    [['rewind'], 'rewind needs --to'],
    [['rewind', '--to', 'yesterday'], '--to must be an ISO 8601 date'],
    [['rewind', '--to', '2026-05-01T08:00'], '--to must be an ISO 8601 date, or date-time with its zone'],
    [['rewind', '--to', '2026-05-01T08:00Z', '--to', '2026-05-01T09:00Z'], '--to given twice'],
    [['rewind', '--to', '2026-05-01T08:00Z', '--group'], '--group needs a value'],
    [['rewind', '--to', '2026-05-01T08:00Z', '--group', 'notify.elsewhere'], 'not a consumer group of the platform: notify.elsewhere'],
    [['list', '--dry-run'], 'unexpected argument "--dry-run"'],
    [['list', '--to', '2026-05-01T08:00Z'], 'unexpected argument "--to"'],
  ])('exits 2 with the usage for %j', async (args, message) => {
    const run = await consumerGroups(freshGroups(), ...args);
    expect(run).toMatchObject({ code: 2, out: '' });
    expect(run.err).toContain(message);
    expect(run.err).toContain('usage: npm run consumer-groups');
  });
});
