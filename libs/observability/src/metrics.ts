import { Controller, Get, Header } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SharedRun } from './shared-run';

/**
 * How long a scrape's text is served again, in milliseconds. The gateway serves `/metrics` on the
 * browsers' port, and a scrape runs the process collectors, which list every open file descriptor:
 * at 20,000 connections, about 20 ms of the event loop each, so a caller asking in a loop held up
 * every delivery. Callers share the scrape in flight, and its text for this long after it.
 */
export const SCRAPE_REUSE_MS = 1_000;

/** One Prometheus registry per app, with the process metrics and an `app` label. */
export class Metrics {
  readonly registry = new Registry();
  private readonly scrapes: SharedRun<string>;

  constructor(app: string, reuseMs = SCRAPE_REUSE_MS) {
    this.scrapes = new SharedRun(() => this.registry.metrics(), reuseMs);
    this.registry.setDefaultLabels({ app });
    collectDefaultMetrics({ register: this.registry });
  }

  counter(name: string, help: string, labelNames: string[] = []): Counter {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  histogram(name: string, help: string, buckets: number[], labelNames: string[] = []): Histogram {
    return new Histogram({ name, help, buckets, labelNames, registers: [this.registry] });
  }

  /** The registry in the Prometheus text format: the scrape in flight, the last one within `reuseMs`, or a new one. */
  scrape(): Promise<string> {
    return this.scrapes.get();
  }
}

@Controller()
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  scrape(): Promise<string> {
    return this.metrics.scrape();
  }
}
