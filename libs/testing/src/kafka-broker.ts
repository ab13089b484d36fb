import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port';

const run = promisify(execFile);
const KAFKA_SCRIPT = resolve(__dirname, '../../../tools/kafka/kafka.sh');

export interface LocalKafka {
  brokers: string;
  stop(): Promise<void>;
}

/** A fresh single-node KRaft broker on free loopback ports, in a data folder of its own. */
export async function startLocalKafka(): Promise<LocalKafka> {
  const dataDir = mkdtempSync(join(tmpdir(), 'notify-kafka-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KAFKA_PORT: String(await freePort()),
    KAFKA_CONTROLLER_PORT: String(await freePort()),
    KAFKA_DATA_DIR: dataDir,
    KAFKA_FRESH: '1',
  };
  delete env.KAFKA_BROKERS;
  await run('bash', [KAFKA_SCRIPT, 'start'], { env, maxBuffer: 8 * 1024 * 1024 });
  return {
    brokers: `127.0.0.1:${env.KAFKA_PORT}`,
    stop: async () => {
      await run('bash', [KAFKA_SCRIPT, 'stop'], { env });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
