// An app for app-process.spec.ts whose close has work to finish, which it reports on stdout. Its
// argument: `fatal`, one of its consumers gives up (`onFatal`) once it has started; `signal`, it
// says `started` and waits for a signal; `slow-start`, it says `starting`, then takes a while to start;
// `busy-start`, it says `started` and then keeps the event loop busy for a while before it returns;
// `stuck-close`, it says `started`, and its close never ends, with a consumer giving up meanwhile.
import type { INestApplication } from '@nestjs/common';
import { runMain } from './app-process';

const mode = process.argv[2];

runMain('fatal-fixture', () => ({ logLevel: 'silent' }), async (_config, _logger, onFatal) => {
  if (mode === 'stuck-close') {
    setInterval(() => undefined, 60_000);
    process.stdout.write('started\n');
    const close = () => {
      setTimeout(() => onFatal(new Error('a batch is stuck')), 100);
      return new Promise<void>(() => undefined);
    };
    return { close } as unknown as INestApplication;
  }
  const app = {
    close: async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      process.stdout.write('closed\n');
    },
  } as unknown as INestApplication;
  if (mode === 'fatal') {
    setTimeout(() => onFatal(new Error('a consumer gave up')), 50);
    return app;
  }
  // Something that keeps the process alive until it is told to stop, as a server does.
  setInterval(() => undefined, 60_000);
  if (mode === 'slow-start') {
    process.stdout.write('starting\n');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  process.stdout.write('started\n');
  // Work that runs on before the start's first wait, as a module's set-up may: a signal sent meanwhile.
  if (mode === 'busy-start') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
  return app;
}, { fatalCloseMs: 1_000 });
