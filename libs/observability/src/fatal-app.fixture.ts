// An app for app-process.spec.ts whose close has work to finish, which it reports on stdout. With
// the argument `fatal`, one of its consumers gives up (`onFatal`) once it has started; otherwise it
// says `started` and waits for a signal.
import type { INestApplication } from '@nestjs/common';
import { runMain } from './app-process';

runMain('fatal-fixture', () => ({ logLevel: 'silent' }), async (_config, _logger, onFatal) => {
  const app = {
    close: async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      process.stdout.write('closed\n');
    },
  } as unknown as INestApplication;
  if (process.argv[2] === 'fatal') setTimeout(() => onFatal(new Error('a consumer gave up')), 50);
  else {
    // Something that keeps the process alive until it is told to stop, as a server does.
    setInterval(() => undefined, 60_000);
    process.stdout.write('started\n');
  }
  return app;
});
