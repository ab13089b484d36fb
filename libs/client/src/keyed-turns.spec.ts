import { KeyedTurns } from './keyed-turns';

/** A task that runs only when let go, and records when it started. */
function gate(started: string[], name: string) {
  let release!: (outcome: 'ok' | 'fail') => void;
  const outcome = new Promise<'ok' | 'fail'>((resolve) => (release = resolve));
  const task = async () => {
    started.push(name);
    if ((await outcome) === 'fail') throw new Error(`${name} failed`);
    return name;
  };
  return { task, release };
}

type Gate = ReturnType<typeof gate>;

const turnOfTheLoop = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyedTurns', () => {
  it('starts a key’s next task only once the one before it has settled, and goes on after a failure', async () => {
    const turns = new KeyedTurns();
    const started: string[] = [];
    const first = gate(started, 'register');
    const second = gate(started, 'remove');
    const third = gate(started, 'register again');
    const results = [turns.run('u-1', first.task), turns.run('u-1', second.task), turns.run('u-1', third.task)];
    await turnOfTheLoop();
    expect(started).toEqual(['register']);
    first.release('fail');
    await expect(results[0]).rejects.toThrow('register failed');
    await turnOfTheLoop();
    expect(started).toEqual(['register', 'remove']);
    second.release('ok');
    third.release('ok');
    await expect(Promise.all(results.slice(1))).resolves.toEqual(['remove', 'register again']);
    expect(started).toEqual(['register', 'remove', 'register again']);
  });

  it('runs different keys side by side, and forgets a key once its tasks have settled', async () => {
    const turns = new KeyedTurns();
    const started: string[] = [];
    const a = gate(started, 'a');
    const b = gate(started, 'b');
    const both = [turns.run('u-1', a.task), turns.run('u-2', b.task)];
    await turnOfTheLoop();
    expect(started).toEqual(['a', 'b']);
    expect(turns.busyKeys).toBe(2);
    b.release('ok');
    a.release('ok');
    await Promise.all(both);
    await turnOfTheLoop();
    expect(turns.busyKeys).toBe(0);
  });

  it('runs a task of several keys once the tasks before it of any of them have settled, and holds theirs back meanwhile', async () => {
    const [turns, started] = [new KeyedTurns(), [] as string[]];
    const [placed, other, batch, shipped] = ['placed u-1', 'u-3', 'batch u-1 u-2', 'shipped u-2'].map((name) => gate(started, name)) as [Gate, Gate, Gate, Gate];
    const results = [turns.run('u-1', placed.task), turns.run('u-3', other.task), turns.runAll(['u-1', 'u-2', 'u-1'], batch.task), turns.run('u-2', shipped.task)];
    await turnOfTheLoop();
    expect(started).toEqual(['placed u-1', 'u-3']);
    placed.release('ok');
    await turnOfTheLoop();
    expect(started).toEqual(['placed u-1', 'u-3', 'batch u-1 u-2']);
    batch.release('fail');
    await expect(results[2]).rejects.toThrow('batch u-1 u-2 failed');
    await turnOfTheLoop();
    expect(started).toEqual(['placed u-1', 'u-3', 'batch u-1 u-2', 'shipped u-2']);
    other.release('ok');
    shipped.release('ok');
    await Promise.all([results[0], results[1], results[3]]);
    await turnOfTheLoop();
    expect(turns.busyKeys).toBe(0);
  });
});
