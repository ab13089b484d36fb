import { fork } from 'node:child_process';
import { createPushProvider } from '@notify/channels';
import { startFakeApns } from '@notify/testing';
if (process.argv.includes('--server')) {
  void startFakeApns({ latencyMs: 20, record: false }).then((apns) => process.send?.({ url: apns.url, teamId: apns.teamId, keyId: apns.keyId, topic: apns.topic, signingKey: apns.signingKey }));
  process.on('uncaughtException', (e) => console.error('child uncaught', e));
} else {
  const child = fork(__filename, ['--server']);
  child.once('message', async (a: any) => {
    const p = createPushProvider({ driver: 'apns', baseUrl: a.url, teamId: a.teamId, keyId: a.keyId, topic: a.topic, signingKey: a.signingKey, limits: { concurrency: 500, queue: 1000, ratePerSecond: 1e6, breakerFailures: 100000 } });
    const N = Number(process.env.N ?? 500);
    const results = await Promise.allSettled(Array.from({ length: N }, (_, i) => p.send({ token: i.toString(16).padStart(64, '0'), content: { title: 't', body: 'b' } })));
    const errs = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.message);
    console.log(results.length - errs.length, 'ok', errs.length, errs.slice(0, 2));
    await p.close(); child.kill();
  });
}
