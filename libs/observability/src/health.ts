import { Controller, Get, Inject, Injectable, Optional, Res, type OnModuleDestroy } from '@nestjs/common';
import type { Response } from 'express';
import type { AppLogger } from './logger';
import { SharedRun } from './shared-run';

/** The app's logger, as ObservabilityModule provides it. */
export const HEALTH_LOGGER = Symbol('HEALTH_LOGGER');

export type HealthCheck = () => Promise<void>;
export interface HealthReport {
  readonly healthy: boolean;
  readonly checks: Readonly<Record<string, 'up' | 'down'>>;
  /** The app is shutting down: it takes no new work, whatever its dependencies say. */
  readonly stopping?: true;
}

const STOPPING: HealthReport = Object.freeze({ healthy: false, checks: Object.freeze({}), stopping: true });

const CHECK_TIMEOUT_MS = 2_000;
/**
 * `GET /health` needs no credentials on the gateway's public port: run for every request, a flood of
 * them queued one `SELECT 1` behind another on the health connection until the checks timed out and
 * health said 503. Callers share the run in flight, and its answer for this long after it ends.
 */
export const HEALTH_REUSE_MS_DEFAULT = 1_000;

/**
 * Dependencies register a check here; `GET /health` answers 503 when any fails. It says `down`, not
 * why: the gateway's port is the browsers', and a driver's error names hosts, users and addresses of
 * the installation. Why goes to the log, once each time a check goes down or its reason changes.
 */
@Injectable()
export class HealthRegistry implements OnModuleDestroy {
  private readonly checks = new Map<string, HealthCheck>();
  private readonly reasons = new Map<string, string>();
  private readonly runs: SharedRun<HealthReport>;
  private stopping = false;

  constructor(
    @Optional() @Inject(HEALTH_LOGGER) private readonly logger?: AppLogger,
    @Optional() reuseMs: number = HEALTH_REUSE_MS_DEFAULT,
  ) {
    this.runs = new SharedRun(() => this.runChecks(), reuseMs);
  }

  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  /**
   * Once a shutdown is under way (the app modules' consumers stopped, before the gateway's wait for
   * its last acknowledgements), health answers 503 `stopping` without running the checks: a
   * gateway refuses new connections for the tens of seconds it waits for the last acknowledgements,
   * and a load balancer told it was healthy kept sending browsers there to be refused.
   */
  onModuleDestroy(): void {
    this.stopping = true;
  }

  /** Every check's answer: the run in flight if there is one, the last run's within the reuse window, or a new run. */
  run(): Promise<HealthReport> {
    return this.stopping ? Promise.resolve(STOPPING) : this.runs.get();
  }

  private async runChecks(): Promise<HealthReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        const reason = await failureOf(check);
        this.note(name, reason);
        return [name, reason === undefined ? 'up' : 'down'] as const;
      }),
    );
    return Object.freeze({ healthy: entries.every(([, result]) => result === 'up'), checks: Object.freeze(Object.fromEntries(entries)) });
  }

  private note(name: string, reason: string | undefined): void {
    if (reason === this.reasons.get(name)) return;
    if (reason === undefined) {
      this.reasons.delete(name);
      this.logger?.info({ check: name }, 'health check up again');
    } else {
      this.reasons.set(name, reason);
      this.logger?.warn({ check: name, reason }, 'health check down');
    }
  }
}

/** Why the check failed, or undefined when it answered in time. */
async function failureOf(check: HealthCheck): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(), timeout]);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    clearTimeout(timer);
  }
}

@Controller()
export class HealthController {
  constructor(private readonly registry: HealthRegistry) {}

  @Get('health')
  async health(@Res() res: Response): Promise<void> {
    const { healthy, checks, stopping } = await this.registry.run();
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : stopping ? 'stopping' : 'unavailable', checks });
  }
}
