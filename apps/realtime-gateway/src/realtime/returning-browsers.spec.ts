import type { DestinationStream } from 'pino';
import { createLogger } from '@notify/observability';
import type { ReturningReceiversStore } from '@notify/persistence';
import { MOST_RETURNING_PER_WRITE, MOST_RETURNING_WAITING, RETURNING_FLUSH_AFTER_MS, ReturningBrowsers } from './returning-browsers';

/** A store that keeps the users of each statement; each statement waits for `release()` while `gated`, and the first `failures` fail. */
function store({ gated = false, failures = 0 } = {}) {
  const statements: string[][] = [];
  const releases: (() => void)[] = [];
  let calls = 0;
  const fake = {
    makeDue: async (userIds: string[]) => {
      calls += 1;
      if (calls <= failures) throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', parameters: [userIds] });
      statements.push(userIds);
      if (gated) await new Promise<void>((resolve) => releases.push(resolve));
      return userIds.length;
    },
  } as unknown as ReturningReceiversStore;
  return { store: fake, statements, release: () => releases.shift()?.() };
}

/** A logger that keeps its lines. */
function keptLogger() {
  const lines: string[] = [];
  const destination: DestinationStream = { write: (line: string) => void lines.push(line) };
  return { logger: createLogger('returning-browsers-spec', 'info', destination), lines };
}

/** Lets the promises settled so far run their callbacks (timers stay fake). */
const settled = async () => {
  for (let i = 0; i < 10; i += 1) await Promise.resolve();
};

describe('ReturningBrowsers', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('makes the users that connect within the flush delay due in one statement, each once', async () => {
    const db = store();
    const returning = new ReturningBrowsers(db.store, keptLogger().logger);

    for (const userId of ['u-1', 'u-2', 'u-1', 'u-3', 'u-2']) returning.connected(userId);
    jest.advanceTimersByTime(RETURNING_FLUSH_AFTER_MS - 1);
    expect(db.statements).toEqual([]);
    jest.advanceTimersByTime(1);
    await settled();
    expect(db.statements).toEqual([['u-1', 'u-2', 'u-3']]);

    // A user already made due connects again (a second device): made due again.
    returning.connected('u-1');
    jest.advanceTimersByTime(RETURNING_FLUSH_AFTER_MS);
    await settled();
    expect(db.statements).toEqual([['u-1', 'u-2', 'u-3'], ['u-1']]);
  });

  it('writes a statement’s worth at once, one statement at a time, and the users connecting meanwhile in the next', async () => {
    const db = store({ gated: true });
    const returning = new ReturningBrowsers(db.store, keptLogger().logger);
    const users = Array.from({ length: MOST_RETURNING_PER_WRITE + 2 }, (_, i) => `u-${i}`);

    for (const userId of users) returning.connected(userId);
    jest.advanceTimersByTime(0);
    await settled();
    expect(db.statements.map((statement) => statement.length)).toEqual([MOST_RETURNING_PER_WRITE]);

    returning.connected('u-late');
    jest.advanceTimersByTime(10 * RETURNING_FLUSH_AFTER_MS);
    await settled();
    expect(db.statements).toHaveLength(1);

    db.release();
    await settled();
    jest.advanceTimersByTime(RETURNING_FLUSH_AFTER_MS);
    await settled();
    expect(db.statements[1]).toEqual([...users.slice(MOST_RETURNING_PER_WRITE), 'u-late']);
  });

  it('holds at most MOST_RETURNING_WAITING users while a statement runs, and logs how many it left out, not who', async () => {
    const db = store({ gated: true });
    const { logger, lines } = keptLogger();
    const returning = new ReturningBrowsers(db.store, logger);
    returning.connected('u-first');
    jest.advanceTimersByTime(RETURNING_FLUSH_AFTER_MS);
    await settled();

    for (let i = 0; i < MOST_RETURNING_WAITING + 5; i += 1) returning.connected(`u-${i}`);
    // One already waiting comes again: not left out.
    returning.connected('u-0');
    db.release();
    await settled();
    jest.advanceTimersByTime(0);
    await settled();

    expect(db.statements.slice(1).flat()).toHaveLength(MOST_RETURNING_PER_WRITE);
    const warning = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.level === 40);
    expect(warning).toMatchObject({ users: 5, waiting: MOST_RETURNING_WAITING });
    expect(lines.join('')).not.toContain(`u-${MOST_RETURNING_WAITING}`);
  });

  it('logs a statement that failed without its users, and goes on with the next', async () => {
    const db = store({ failures: 1 });
    const { logger, lines } = keptLogger();
    const returning = new ReturningBrowsers(db.store, logger);

    returning.connected('u-lost');
    jest.advanceTimersByTime(RETURNING_FLUSH_AFTER_MS);
    await settled();
    returning.connected('u-next');
    jest.advanceTimersByTime(RETURNING_FLUSH_AFTER_MS);
    await settled();

    expect(db.statements).toEqual([['u-next']]);
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([expect.objectContaining({ level: 50, users: 1 })]);
    expect(lines.join('')).not.toContain('u-lost');
  });

  it('waits at shutdown for the statement under way, and drops the users still waiting', async () => {
    const db = store({ gated: true });
    const returning = new ReturningBrowsers(db.store, keptLogger().logger);
    returning.connected('u-1');
    jest.advanceTimersByTime(RETURNING_FLUSH_AFTER_MS);
    await settled();
    returning.connected('u-2');

    let stopped = false;
    const stopping = returning.onApplicationShutdown().then(() => (stopped = true));
    await settled();
    expect(stopped).toBe(false);
    db.release();
    await stopping;

    returning.connected('u-3');
    jest.advanceTimersByTime(10 * RETURNING_FLUSH_AFTER_MS);
    await settled();
    expect(db.statements).toEqual([['u-1']]);
  });
});
