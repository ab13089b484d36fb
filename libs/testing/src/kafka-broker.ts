import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePorts } from '@notify/observability';

const run = promisify(execFile);
const KAFKA_SCRIPT = resolve(__dirname, '../../../tools/kafka/kafka.sh');

/** A single-node KRaft broker of the project's own (tools/kafka), on free loopback ports, in a data folder of its own. */
export class LocalKafka {
  private constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly dataDir: string,
  ) {}

  get brokers(): string {
    return `127.0.0.1:${this.env.KAFKA_PORT}`;
  }

  /** Kafka's jars in tools/kafka/.cache (from Maven Central the first time), with no broker. */
  static async install(): Promise<void> {
    await run('bash', [KAFKA_SCRIPT, 'install'], { maxBuffer: 8 * 1024 * 1024 });
  }

  static async start(): Promise<LocalKafka> {
    const dataDir = mkdtempSync(join(tmpdir(), 'notify-kafka-'));
    const [port, controllerPort] = await freePorts(2);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KAFKA_PORT: String(port),
      KAFKA_CONTROLLER_PORT: String(controllerPort),
      KAFKA_DATA_DIR: dataDir,
      // The broker stops once this process is gone, even when it never ran its teardown (Ctrl-C, a kill).
      KAFKA_OWNER_PID: String(process.pid),
    };
    delete env.KAFKA_BROKERS;
    const kafka = new LocalKafka(env, dataDir);
    try {
      await kafka.script('start', '--fresh');
    } catch (error) {
      // Nobody can stop a broker whose start failed: stopped here (if it runs at all), its folder removed.
      await kafka.stop().catch(() => undefined);
      throw error;
    }
    return kafka;
  }

  /** Stops the broker and keeps its data: `resume` starts it again on the same ports, as an operator's restart does. */
  async halt(): Promise<void> {
    await this.script('stop');
  }

  async resume(): Promise<void> {
    await this.script('start');
  }

  /** Stops the broker and removes its data folder, also when the stop fails. */
  async stop(): Promise<void> {
    try {
      await this.script('stop');
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  private async script(...args: string[]): Promise<void> {
    await run('bash', [KAFKA_SCRIPT, ...args], { env: this.env, maxBuffer: 8 * 1024 * 1024 });
  }
}
