// An app for app-process.spec.ts: once started, one of its consumers gives up (`onFatal`) while its
// close has work to finish, which it reports on stdout.
import type { INestApplication } from '@nestjs/common';
import { runMain } from './app-process';

runMain('fatal-fixture', () => ({ logLevel: 'silent' }), async (_config, _logger, onFatal) => {
  const app = {
    close: async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      process.stdout.write('closed\n');
    },
  } as unknown as INestApplication;
  setTimeout(() => onFatal(new Error('a consumer gave up')), 50);
  return app;
});
