import { type Admin } from 'kafkajs';
import pino from 'pino';
import { channelWorkerSettings, kafkaSettings, loadConfig, messageCenterSettings, realtimeGatewaySettings, saslComplete, type ConfigOf } from '@notify/config';
import { Topics } from '@notify/contracts';
import { createKafka } from '@notify/kafka';
import { createLogger } from '@notify/observability';
import { zonedInstant } from './instants';

const USAGE = `usage: npm run consumer-groups -- <command>
  help                      this text
  list [--group G ...]
      the platform's consumer groups, each with the topic it reads: its state, members, and per partition
      the committed offset, the end offset and the lag (records not committed yet), summed per group
  rewind --to ISO [--group G ...] [--dry-run]
      sets each group's committed offset, per partition of its topic, to the first record at or after
      that time (the end, when there is none), only where that is before the committed offset: a group
      is never moved forward, and a partition it never committed is left alone (it starts where the app
      says: the beginning). Prints per group and partition from → to and how many records are read again.
      Refused (exit 1, nothing changed) while a selected group has members: stop the apps, and wait until
      \`list\` shows them Empty (a member that did not leave is dropped after its session timeout).
      --dry-run prints the same and changes nothing (exit 1 as well while a group has members).
--group selects groups by name (repeatable; all of them by default); --to is an ISO 8601 time with its zone
(2026-05-01T08:00Z, 2026-05-01T10:00+02:00) or a date (UTC midnight).
What it is for: PostgreSQL restored from a backup to time T while Kafka kept running. The consumers
commit their offsets after their database transaction, so the groups are past everything consumed after T,
which the restored database does not hold. Stop every app, restore, rewind to T minus the consumers' lag at
T (records produced before T but consumed after it) and a margin (the producers' clocks), then start the
apps: they read those records again. A request whose id the restored database holds (within the retention
period) makes nothing new; a request consumed after T is stored again with new message ids, and its sends
go out; a recipient update is applied again with its own time. It works only within Kafka's retention:
records deleted from a topic cannot be read again. Groups: MESSAGE_CENTER_GROUP (and its .recipients and
.fallback), GATEWAY_GROUP, CHANNEL_WORKER_{PUSH,SMS,EMAIL}_GROUP. Brokers: KAFKA_BROKERS, KAFKA_SSL, KAFKA_SASL_*.`;

class UsageError extends Error {}

/** The consumer groups' names (their defaults and variables are the apps' own) and the brokers. */
const toolSettings = {
  ...kafkaSettings,
  messageCenterGroup: messageCenterSettings.consumerGroup,
  gatewayGroup: realtimeGatewaySettings.consumerGroup,
  pushGroup: channelWorkerSettings.pushGroup,
  smsGroup: channelWorkerSettings.smsGroup,
  emailGroup: channelWorkerSettings.emailGroup,
};

interface GroupOnTopic {
  groupId: string;
  topic: string;
}

type Command = { name: 'list'; groups: string[] } | { name: 'rewind'; groups: string[]; to: number; dryRun: boolean };

interface Output {
  write(text: string): unknown;
}

/** What a command prints on stdout, what on stderr, and its exit code. */
interface Report {
  lines: string[];
  problems: string[];
  code: number;
}

/** A partition of a group's topic: the group's committed offset (undefined: never committed) and the topic's ends. */
interface PartitionState {
  partition: number;
  committed: number | undefined;
  low: number;
  high: number;
}

interface GroupState extends GroupOnTopic {
  state: string;
  members: number;
  /** Undefined when the topic does not exist. */
  partitions: PartitionState[] | undefined;
}

/** `npm run consumer-groups -- list|rewind`: where the platform's consumer groups are, and moving them back. Returns the exit code. */
export async function main(args: string[], out: Output = process.stdout, errors: Output = process.stderr, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (args[0] === 'help' || args[0] === '--help') {
    out.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const command = parseCommand(args);
    const config = loadConfig('consumer-groups', toolSettings, env, [saslComplete]);
    const groups = selectGroups(platformGroups(config), command.groups);
    // Its log on stderr: stdout is the tool's answer.
    const kafka = createKafka('consumer-groups', config, createLogger('consumer-groups', 'error', pino.destination(2)));
    const admin = kafka.admin();
    await admin.connect();
    try {
      const report = command.name === 'list' ? await list(admin, groups) : await rewind(admin, groups, command);
      out.write(report.lines.map((line) => `${line}\n`).join(''));
      errors.write(report.problems.map((line) => `${line}\n`).join(''));
      return report.code;
    } finally {
      await admin.disconnect();
    }
  } catch (error) {
    errors.write(`${error instanceof Error ? error.message : String(error)}\n`);
    if (error instanceof UsageError) errors.write(`${USAGE}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

/** Every consumer group of the platform with the topic it reads (the apps' groupId and topics). */
function platformGroups(config: ConfigOf<typeof toolSettings>): GroupOnTopic[] {
  const groups: GroupOnTopic[] = [
    { groupId: config.messageCenterGroup, topic: Topics.requests },
    { groupId: `${config.messageCenterGroup}.recipients`, topic: Topics.recipients },
    { groupId: `${config.messageCenterGroup}.fallback`, topic: Topics.events },
    { groupId: config.gatewayGroup, topic: Topics.deliver.websocket },
    { groupId: config.pushGroup, topic: Topics.deliver.push },
    { groupId: config.smsGroup, topic: Topics.deliver.sms },
    { groupId: config.emailGroup, topic: Topics.deliver.email },
  ];
  // Two channels may share a group (it reads both topics); the same group on the same topic is one.
  return groups.filter((group, i) => groups.findIndex((other) => other.groupId === group.groupId && other.topic === group.topic) === i);
}

function selectGroups(groups: GroupOnTopic[], names: string[]): GroupOnTopic[] {
  if (names.length === 0) return groups;
  const known = new Set(groups.map((group) => group.groupId));
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) throw new UsageError(`not a consumer group of the platform: ${unknown.join(', ')} (its groups: ${[...known].join(', ')})`);
  return groups.filter((group) => names.includes(group.groupId));
}

async function list(admin: Admin, groups: GroupOnTopic[]): Promise<Report> {
  const lines: string[] = [];
  for (const group of await groupStates(admin, groups)) {
    const head = `${group.groupId} on ${group.topic}: ${group.state}, ${group.members} member(s)`;
    if (!group.partitions) {
      lines.push(`${head}, topic ${group.topic} does not exist`);
      continue;
    }
    const committed = group.partitions.filter((p) => p.committed !== undefined);
    const never = group.partitions.length - committed.length;
    const lag = committed.reduce((sum, p) => sum + lagOf(p), 0);
    const lagText = committed.length === 0 ? 'never committed' : `lag ${lag}${never > 0 ? `, ${never} partition(s) never committed` : ''}`;
    lines.push(`${head}, ${lagText}`);
    for (const p of group.partitions) {
      lines.push(p.committed === undefined ? `  partition ${p.partition}: never committed, end ${p.high}` : `  partition ${p.partition}: committed ${p.committed}, end ${p.high}, lag ${lagOf(p)}`);
    }
  }
  return { lines, problems: [], code: 0 };
}

/** Records after the committed offset; those before the topic's first kept offset are gone. */
function lagOf({ committed, low, high }: PartitionState): number {
  return high - Math.max(committed ?? low, low);
}

/** Where one partition of a group goes. */
interface Move {
  partition: number;
  from: number;
  to: number;
}

async function rewind(admin: Admin, groups: GroupOnTopic[], { to, dryRun }: Extract<Command, { name: 'rewind' }>): Promise<Report> {
  const time = new Date(to).toISOString();
  const states = await groupStates(admin, groups);
  // Checked for every selected group before any is changed: a partial rewind is worse than none.
  const running = [...new Map(states.filter(hasMembers).map((group) => [group.groupId, group])).values()];
  const refusal = running.map((group) => `${group.groupId} is ${group.state} with ${group.members} running member(s)`);
  const refused = refusal.length > 0 ? [`${dryRun ? 'a rewind would be refused' : 'refused, nothing changed'}: stop the apps first (and wait until \`list\` shows their groups Empty): ${refusal.join('; ')}`] : [];
  if (refused.length > 0 && !dryRun) return { lines: [], problems: refused, code: 1 };

  const lines: string[] = [];
  const plans: { group: GroupState; moves: Move[] }[] = [];
  for (const group of states) {
    lines.push(`${group.groupId} on ${group.topic}:`);
    if (!group.partitions) {
      lines.push(`  topic ${group.topic} does not exist, left alone`);
      continue;
    }
    const atTime = new Map((await admin.fetchTopicOffsetsByTimestamp(group.topic, to)).map((entry) => [entry.partition, Number(entry.offset)]));
    const moves: Move[] = [];
    for (const p of group.partitions) {
      const target = atTime.get(p.partition) ?? p.high;
      if (p.committed === undefined) {
        lines.push(`  partition ${p.partition}: never committed, left alone`);
      } else if (target < p.committed) {
        moves.push({ partition: p.partition, from: p.committed, to: target });
        // Kafka finds the first record at or after the time among those it keeps.
        const deleted = target === p.low && p.low > 0 ? ` (the first offset kept: records before it were deleted, those after ${time} among them are lost)` : '';
        lines.push(`  partition ${p.partition}: ${p.committed} → ${target}, ${p.committed - target} record(s) read again${deleted}`);
      } else {
        lines.push(`  partition ${p.partition}: stays at ${p.committed} (the first record at or after ${time} is at ${target}; never moved forward)`);
      }
    }
    plans.push({ group, moves });
  }
  const again = plans.reduce((sum, plan) => sum + plan.moves.reduce((n, move) => n + move.from - move.to, 0), 0);
  const moved = plans.filter((plan) => plan.moves.length > 0);
  if (dryRun) {
    lines.push(`dry run, nothing changed: ${moved.length} group(s) would be rewound to ${time}, ${again} record(s) read again`);
    return { lines, problems: refused, code: refused.length > 0 ? 1 : 0 };
  }
  const done: string[] = [];
  for (const { group, moves } of moved) {
    try {
      // kafkajs joins the group to commit them, and refuses itself when the group has members by then.
      await admin.setOffsets({ groupId: group.groupId, topic: group.topic, partitions: moves.map((move) => ({ partition: move.partition, offset: String(move.to) })) });
    } catch (error) {
      const rewound = done.length > 0 ? `rewound ${done.join(', ')}; ` : 'nothing changed; ';
      throw new Error(`${rewound}rewinding ${group.groupId} on ${group.topic} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    done.push(`${group.groupId} on ${group.topic}`);
  }
  lines.push(`rewound ${moved.length} group(s) to ${time}: ${again} record(s) read again`);
  return { lines, problems: [], code: 0 };
}

function hasMembers(group: GroupState): boolean {
  return group.members > 0 || !['Empty', 'Dead'].includes(group.state);
}

/** Each group's state, members and committed offsets on its topic, with the topic's ends. */
async function groupStates(admin: Admin, groups: GroupOnTopic[]): Promise<GroupState[]> {
  const described = new Map((await admin.describeGroups([...new Set(groups.map((group) => group.groupId))])).groups.map((group) => [group.groupId, group]));
  // Asking for a missing topic's offsets would create it where the brokers create topics on demand.
  const topics = new Set(await admin.listTopics());
  const states: GroupState[] = [];
  for (const group of groups) {
    const description = described.get(group.groupId);
    const state = { ...group, state: description?.state ?? 'Unknown', members: description?.members.length ?? 0 };
    if (!topics.has(group.topic)) {
      states.push({ ...state, partitions: undefined });
      continue;
    }
    const [offsets] = await admin.fetchOffsets({ groupId: group.groupId, topics: [group.topic] });
    const committed = new Map((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    const ends = await admin.fetchTopicOffsets(group.topic);
    const partitions = ends
      .map(({ partition, low, high }) => {
        const offset = committed.get(partition);
        return { partition, committed: offset === undefined || offset < 0 ? undefined : offset, low: Number(low), high: Number(high) };
      })
      .sort((a, b) => a.partition - b.partition);
    states.push({ ...state, partitions });
  }
  return states;
}

function parseCommand(args: string[]): Command {
  const [name, ...rest] = args;
  if (name !== 'list' && name !== 'rewind') throw new UsageError(`unknown command "${name ?? ''}"`);
  const groups: string[] = [];
  let to: number | undefined;
  let dryRun = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--dry-run' && name === 'rewind') {
      if (dryRun) throw new UsageError('--dry-run given twice');
      dryRun = true;
      continue;
    }
    if (arg !== '--group' && !(arg === '--to' && name === 'rewind')) throw new UsageError(`unexpected argument "${arg}"`);
    const value = rest[++i];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${arg} needs a value`);
    if (arg === '--group') {
      groups.push(value);
      continue;
    }
    if (to !== undefined) throw new UsageError('--to given twice');
    to = instant(value);
  }
  if (name === 'list') return { name, groups };
  if (to === undefined) throw new UsageError('rewind needs --to');
  return { name, groups, to, dryRun };
}

/** A date (UTC midnight) or a date-time with its zone: a time without one would be read in this machine's zone. */
function instant(text: string): number {
  const time = zonedInstant(text);
  if (time === undefined) throw new UsageError(`--to must be an ISO 8601 date, or date-time with its zone (2026-05-01T08:00Z), not "${text}"`);
  return time;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
