import { HealthRegistry } from '@notify/observability';
import { eventually } from '@notify/testing';
import { GrpcHealth } from './grpc-transport';

describe('GrpcHealth', () => {
  it('follows the app’s checks after the start: NOT_SERVING while the database is away, SERVING once it is back', async () => {
    let databaseUp = true;
    const checks = new HealthRegistry();
    checks.register('database', async () => {
      if (!databaseUp) throw new Error('connection refused');
    });
    const health = new GrpcHealth(checks);
    health.refreshMs = 10;
    expect(health.status).toBe('NOT_SERVING');
    await health.onApplicationBootstrap();
    try {
      expect(health.status).toBe('SERVING');
      databaseUp = false;
      await eventually(async () => health.status, (status) => status === 'NOT_SERVING');
      databaseUp = true;
      await eventually(async () => health.status, (status) => status === 'SERVING');
    } finally {
      health.onApplicationShutdown();
    }
    expect(health.status).toBe('NOT_SERVING');
  });
});
