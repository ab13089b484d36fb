import { Controller, Get, Inject, Injectable, Optional, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { AppLogger } from './logger';

/** The app's logger, as ObservabilityModule provides it. */
export const HEALTH_LOGGER = Symbol('HEALTH_LOGGER');

export type HealthCheck = () => Promise<void>;

const CHECK_TIMEOUT_MS = 2_000;

/**
 * Dependencies register a check here; `GET /health` answers 503 when any fails. It says `down`, not
 * why: the gateway's port is the browsers', and a driver's error names hosts, users and addresses of
 * the installation. Why goes to the log, once each time a check goes down or its reason changes.
 */
@Injectable()
export class HealthRegistry {
  private readonly checks = new Map<string, HealthCheck>();
  private readonly reasons = new Map<string, string>();

  constructor(@Optional() @Inject(HEALTH_LOGGER) private readonly logger?: AppLogger) {}

  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  async run(): Promise<{ healthy: boolean; checks: Record<string, 'up' | 'down'> }> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        const reason = await failureOf(check);
        this.note(name, reason);
        return [name, reason === undefined ? 'up' : 'down'] as const;
      }),
    );
    return { healthy: entries.every(([, result]) => result === 'up'), checks: Object.fromEntries(entries) };
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
    const { healthy, checks } = await this.registry.run();
    res.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'unavailable', checks });
  }
}
