import { Writable } from 'node:stream';
import { createLogger, type AppLogger } from '@notify/observability';

/** A logger (the apps' own, redaction included) that keeps what it wrote at error level, as parsed JSON lines. */
export function keptErrors(app: string): { logger: AppLogger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const line = JSON.parse(chunk.toString()) as Record<string, unknown>;
      if (line.level === 50) lines.push(line);
      done();
    },
  });
  return { logger: createLogger(app, 'error', destination), lines };
}
