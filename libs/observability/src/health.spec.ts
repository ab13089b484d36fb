import type { DestinationStream } from 'pino';
import { HealthRegistry } from './health';
import { createLogger } from './logger';

/** Stops `Date.now()` (the reuse window's clock) where it is, timers left real; `jest.setSystemTime` moves it. */
const stopTheClock = () =>
  jest.useFakeTimers({
    doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
  });

describe('HealthRegistry', () => {
  afterEach(() => jest.useRealTimers());

  it('is healthy when every check answers', async () => {
    const registry = new HealthRegistry();
    registry.register('postgres', async () => undefined);
    registry.register('kafka', async () => undefined);
    expect(await registry.run()).toEqual({ healthy: true, checks: { postgres: 'up', kafka: 'up' } });
  });

  it('is unhealthy, naming the dependency but not its error, which goes to the log once', async () => {
    const lines: string[] = [];
    const capture: DestinationStream = { write: (line: string) => void lines.push(line) };
    const registry = new HealthRegistry(createLogger('health-spec', 'info', capture), 0);
    let failing = true;
    registry.register('postgres', async () => undefined);
    registry.register('kafka', async () => {
      if (failing) throw new Error('getaddrinfo ENOTFOUND kafka-1.internal.example');
    });
    expect(await registry.run()).toEqual({ healthy: false, checks: { postgres: 'up', kafka: 'down' } });
    await registry.run();
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ check: 'kafka', reason: 'getaddrinfo ENOTFOUND kafka-1.internal.example', msg: 'health check down' }),
    ]);
    failing = false;
    expect(await registry.run()).toEqual({ healthy: true, checks: { postgres: 'up', kafka: 'up' } });
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1]!)).toMatchObject({ check: 'kafka', msg: 'health check up again' });
  });

  it('answers stopping from the start of a shutdown, without running the checks', async () => {
    const registry = new HealthRegistry(undefined, 0);
    let runs = 0;
    registry.register('postgres', async () => void (runs += 1));
    expect(await registry.run()).toEqual({ healthy: true, checks: { postgres: 'up' } });
    registry.onModuleDestroy();
    expect(await registry.run()).toEqual({ healthy: false, checks: {}, stopping: true });
    expect(runs).toBe(1);
  });

  it('shares one run among concurrent callers: a flood of requests runs each check once', async () => {
    stopTheClock();
    const registry = new HealthRegistry();
    const calls = { postgres: 0, kafka: 0 };
    registry.register('postgres', async () => {
      calls.postgres++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    });
    registry.register('kafka', async () => {
      calls.kafka++;
      throw new Error('broker down');
    });
    const reports = await Promise.all(Array.from({ length: 1_000 }, () => registry.run()));
    expect(calls).toEqual({ postgres: 1, kafka: 1 });
    expect(new Set(reports).size).toBe(1);
    expect(reports[0]).toEqual({ healthy: false, checks: { postgres: 'up', kafka: 'down' } });
    // Just after the run ends, within the reuse window (1 s by default), its answer still stands.
    expect(await registry.run()).toBe(reports[0]);
    expect(calls).toEqual({ postgres: 1, kafka: 1 });
  });

  it('runs the checks again once the reuse window has passed, logging a reason only when it changes', async () => {
    const lines: string[] = [];
    const capture: DestinationStream = { write: (line: string) => void lines.push(line) };
    stopTheClock();
    const registry = new HealthRegistry(createLogger('health-spec', 'info', capture), 1_000);
    let calls = 0;
    registry.register('kafka', async () => {
      calls++;
      throw new Error('broker down');
    });
    const first = await registry.run();
    jest.setSystemTime(Date.now() + 999);
    expect(await registry.run()).toBe(first);
    expect(calls).toBe(1);
    jest.setSystemTime(Date.now() + 1);
    const second = await registry.run();
    expect(calls).toBe(2);
    expect(second).not.toBe(first);
    expect(second).toEqual({ healthy: false, checks: { kafka: 'down' } });
    expect(lines).toHaveLength(1);
  });
});
