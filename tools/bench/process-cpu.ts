import { readdirSync, readFileSync } from 'node:fs';

/** Every process's CPU time so far (user + system, seconds) with its command name, by pid (Linux /proc). */
export type CpuSnapshot = Map<number, { comm: string; seconds: number }>;

const TICKS_PER_SECOND = 100;

export function cpuSnapshot(): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      snapshot.set(pid, { comm, seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND });
    } catch {
      // the process ended while the directory was read
    }
  }
  return snapshot;
}

/**
 * CPU seconds spent between two snapshots, per part of the system: the named processes first, then
 * PostgreSQL (every `postgres` process), the broker (`java`), this process, and everything else.
 * A process that ended between the snapshots is missing, so a part can only be understated.
 */
export function cpuSplit(before: CpuSnapshot, after: CpuSnapshot, named: Record<string, number[]>): Map<string, number> {
  const owner = new Map<number, string>();
  for (const [part, pids] of Object.entries(named)) for (const pid of pids) owner.set(pid, part);
  owner.set(process.pid, 'benchmark driver');
  const split = new Map<string, number>([...Object.keys(named), 'PostgreSQL', 'broker', 'benchmark driver', 'other'].map((part) => [part, 0]));
  for (const [pid, { comm, seconds }] of after) {
    const part = owner.get(pid) ?? (comm === 'postgres' ? 'PostgreSQL' : comm === 'java' ? 'broker' : 'other');
    split.set(part, split.get(part)! + seconds - (before.get(pid)?.seconds ?? 0));
  }
  return split;
}

/** "gateway 1.23 s, PostgreSQL 0.80 s, …, all 4.10 s" with each part's CPU per unit of work in µs. */
export function describeSplit(split: Map<string, number>, units: number, unit: string): string {
  const total = [...split.values()].reduce((a, b) => a + b, 0);
  const parts = [...split].map(([part, seconds]) => `${part} ${seconds.toFixed(2)} s (${Math.round((seconds / units) * 1e6)} µs/${unit})`);
  return `${parts.join(', ')}; all ${total.toFixed(2)} s (${Math.round((total / units) * 1e6)} µs/${unit})`;
}
