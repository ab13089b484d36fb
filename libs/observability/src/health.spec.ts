import type { DestinationStream } from 'pino';
import { HealthRegistry } from './health';
import { createLogger } from './logger';

describe('HealthRegistry', () => {
  it('is healthy when every check answers', async () => {
    const registry = new HealthRegistry();
    registry.register('postgres', async () => undefined);
    registry.register('kafka', async () => undefined);
    expect(await registry.run()).toEqual({ healthy: true, checks: { postgres: 'up', kafka: 'up' } });
  });

  it('is unhealthy, naming the dependency but not its error, which goes to the log once', async () => {
    const lines: string[] = [];
    const capture: DestinationStream = { write: (line: string) => void lines.push(line) };
    const registry = new HealthRegistry(createLogger('health-spec', 'info', capture));
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
});
