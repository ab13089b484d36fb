import { HealthRegistry } from './health';

describe('HealthRegistry', () => {
  it('is healthy when every check answers', async () => {
    const registry = new HealthRegistry();
    registry.register('postgres', async () => undefined);
    registry.register('kafka', async () => undefined);
    expect(await registry.run()).toEqual({ healthy: true, checks: { postgres: 'up', kafka: 'up' } });
  });

  it('is unhealthy, naming the dependency and its error, when one check fails', async () => {
    const registry = new HealthRegistry();
    registry.register('postgres', async () => undefined);
    registry.register('kafka', async () => {
      throw new Error('Connection refused');
    });
    expect(await registry.run()).toEqual({ healthy: false, checks: { postgres: 'up', kafka: 'down: Connection refused' } });
  });
});
