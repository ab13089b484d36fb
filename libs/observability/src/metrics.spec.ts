import { Gauge } from 'prom-client';
import { Metrics } from './metrics';

describe('Metrics', () => {
  /** Metrics with a gauge that counts how often the registry was collected. */
  function counted(reuseMs: number): { metrics: Metrics; collections: () => number } {
    const metrics = new Metrics('metrics-spec', reuseMs);
    let collections = 0;
    new Gauge({
      name: 'metrics_spec_collections',
      help: 'collections of the registry',
      registers: [metrics.registry],
      collect() {
        collections += 1;
        this.set(collections);
      },
    });
    return { metrics, collections: () => collections };
  }

  it('collects once for callers that ask together or within the reuse time, and serves them the same text', async () => {
    const { metrics, collections } = counted(60_000);
    const [first, second] = await Promise.all([metrics.scrape(), metrics.scrape()]);
    const third = await metrics.scrape();
    expect(collections()).toBe(1);
    expect(new Set([first, second, third]).size).toBe(1);
    expect(first).toContain('metrics_spec_collections{app="metrics-spec"} 1');
  });

  it('collects again once the reuse time is over', async () => {
    const { metrics, collections } = counted(0);
    await metrics.scrape();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await metrics.scrape()).toContain('metrics_spec_collections{app="metrics-spec"} 2');
    expect(collections()).toBe(2);
  });
});
