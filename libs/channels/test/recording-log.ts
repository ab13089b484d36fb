import type { ProviderLog } from '../src/ports';

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

/** Keeps every line an adapter writes, so a test can look for what must never be there. */
export class RecordingLog implements ProviderLog {
  readonly lines: LogLine[] = [];

  info(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'info', fields, message });
  }

  warn(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'warn', fields, message });
  }

  error(fields: Record<string, unknown>, message: string): void {
    this.lines.push({ level: 'error', fields, message });
  }

  /** Everything written, as one string, the way a log file would hold it. */
  get text(): string {
    return this.lines.map((line) => JSON.stringify(line)).join('\n');
  }
}
