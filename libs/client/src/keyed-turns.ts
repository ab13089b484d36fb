/**
 * Runs tasks one at a time per key, in the order they are given: a task starts once the one given
 * before it for the same key has settled, fulfilled or not. Tasks of different keys run side by side.
 */
export class KeyedTurns {
  /** Each key's last task, settled either way, while it runs. */
  private readonly last = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.runAll([key], task);
  }

  /** Runs `task` in the turn of every one of `keys`: once the tasks given before for any of them have settled. */
  runAll<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const distinct = [...new Set(keys)];
    const before = distinct.flatMap((key) => this.last.get(key) ?? []);
    const turn = (before.length === 0 ? Promise.resolve() : Promise.all(before)).then(task);
    const settled = turn.then(ignore, ignore);
    for (const key of distinct) this.last.set(key, settled);
    void settled.then(() => {
      for (const key of distinct) if (this.last.get(key) === settled) this.last.delete(key);
    });
    return turn;
  }

  /** How many keys have a task that has not settled. */
  get busyKeys(): number {
    return this.last.size;
  }
}

function ignore(): void {}
