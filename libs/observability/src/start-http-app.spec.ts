import { createServer, type AddressInfo } from 'node:net';
import { Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { startHttpApp } from './app-process';
import { createLogger } from './logger';

const seen: string[] = [];

/** Stands for a Kafka consumer: it joins its group when the app starts and leaves it when the app closes. */
@Injectable()
class GroupMember implements OnApplicationBootstrap, OnApplicationShutdown {
  onApplicationBootstrap(): void {
    seen.push('joined');
  }
  onApplicationShutdown(): void {
    seen.push('left');
  }
}

@Module({ providers: [GroupMember] })
class MemberModule {}

describe('startHttpApp', () => {
  it('closes an app whose port is taken before it reports the failure, so its consumers leave their groups', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const started = startHttpApp(MemberModule, { port, host: '127.0.0.1', logger: createLogger('start-http-app-spec', 'silent') });
      await expect(started).rejects.toThrow(/EADDRINUSE/);
      expect(seen).toEqual(['joined', 'left']);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});
