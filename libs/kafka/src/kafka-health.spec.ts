import type { Admin, Producer } from 'kafkajs';
import { HealthRegistry } from '@notify/observability';
import { KafkaModule } from './kafka.module';

describe('the kafka health check', () => {
  /** The module's check over an admin whose first `refusals` calls meet a broker that is down. */
  async function checkWith(refusals: number): Promise<{ result: string | undefined; calls: number }> {
    let calls = 0;
    const admin = {
      describeCluster: async () => {
        calls += 1;
        if (calls <= refusals) throw new Error('Connection error: connect ECONNREFUSED 10.0.0.3:9092');
        return { brokers: [], controller: 1, clusterId: 'c' };
      },
    } as unknown as Admin;
    const registry = new HealthRegistry(undefined, 0);
    new KafkaModule({} as Producer, admin, registry).onModuleInit();
    const { checks } = await registry.run();
    return { result: checks.kafka, calls };
  }

  it('is up when another try reaches a broker that answers, as in a rolling restart of one broker', async () => {
    expect(await checkWith(2)).toEqual({ result: 'up', calls: 3 });
  });

  it('is down when no try reaches a broker', async () => {
    expect(await checkWith(Infinity)).toEqual({ result: 'down', calls: 3 });
  });
});
