import { Metadata, status } from '@grpc/grpc-js';
import type { RpcException } from '@nestjs/microservices';
import { createLogger, Metrics } from '@notify/observability';
import { ApiKeyAuthenticator } from '../auth/api-key-authenticator';
import { API_KEY_HEADER, UnaryCalls, type CallState } from './unary-calls';

const BOOTSTRAP = 'bootstrap-key-0123456789';

/** A call whose client waits `forMs` from now, and can hang up. */
function callOf(forMs = Infinity): CallState & { cancelled: boolean } {
  const deadline = Date.now() + forMs;
  return { cancelled: false, getDeadline: () => deadline };
}

/** Work that ends when told to, recording that it ran. */
function held() {
  let end!: () => void;
  const work = { ran: false, end: () => end(), handle: () => ((work.ran = true), new Promise<string>((resolve) => (end = () => resolve('done')))) };
  return work;
}

describe('UnaryCalls turns', () => {
  const metadata = new Metadata();
  metadata.set(API_KEY_HEADER, BOOTSTRAP);
  const callsOf = (concurrency: number, waitMs = 10_000) =>
    new UnaryCalls(
      new ApiKeyAuthenticator({ findActive: async () => undefined }, { bootstrapApiKey: BOOTSTRAP, apiKeyCacheMs: 0 }),
      new Metrics(`unary-calls-turns-${concurrency}-${waitMs}-${Math.random()}`),
      createLogger('unary-calls-spec', 'silent'),
      { concurrency, waitMs },
    );
  const codeOf = (answer: Promise<unknown>) =>
    answer.then(
      () => status.OK,
      (error: unknown) => ((error as RpcException).getError() as { code: status }).code,
    );
  const settled = () => new Promise((resolve) => setImmediate(resolve));

  it('runs at most `concurrency` calls at once, the others in the order they came', async () => {
    const calls = callsOf(2);
    const works = [held(), held(), held(), held()];
    const answers = works.map((work) => calls.answer('ListMessages', 'query', metadata, work.handle, callOf()));
    await settled();
    expect(works.map((w) => w.ran)).toEqual([true, true, false, false]);
    works[1]!.end();
    await settled();
    expect(works.map((w) => w.ran)).toEqual([true, true, true, false]);
    works[0]!.end();
    await settled();
    expect(works.map((w) => w.ran)).toEqual([true, true, true, true]);
    works[2]!.end();
    works[3]!.end();
    expect(await Promise.all(answers)).toEqual(['done', 'done', 'done', 'done']);
  });

  it('drops a call whose client hung up or whose deadline passed while it waited, without running it', async () => {
    const calls = callsOf(1);
    const first = held();
    const [gone, late, waited] = [held(), held(), held()];
    const goneCall = callOf();
    const answers = [
      calls.answer('ListMessages', 'query', metadata, first.handle, callOf()),
      codeOf(calls.answer('ListMessages', 'query', metadata, gone.handle, goneCall)),
      codeOf(calls.answer('ListMessages', 'query', metadata, late.handle, callOf(20))),
      codeOf(calls.answer('GetMessage', 'query', metadata, waited.handle, callOf())),
    ];
    goneCall.cancelled = true;
    await new Promise((resolve) => setTimeout(resolve, 50));
    first.end();
    await settled();
    expect([gone.ran, late.ran, waited.ran]).toEqual([false, false, true]);
    waited.end();
    expect(await Promise.all(answers)).toEqual(['done', status.CANCELLED, status.DEADLINE_EXCEEDED, status.OK]);
  });

  it('answers a call without a valid key at once, even while every turn is taken', async () => {
    const calls = callsOf(1);
    const first = held();
    const firstAnswer = calls.answer('ListMessages', 'query', metadata, first.handle, callOf());
    const keyless = held();
    expect(await codeOf(calls.answer('ListMessages', 'query', new Metadata(), keyless.handle, callOf()))).toBe(status.UNAUTHENTICATED);
    expect(keyless.ran).toBe(false);
    first.end();
    expect(await firstAnswer).toBe('done');
  });

  it('answers UNAVAILABLE to a call that waited longer than waitMs for its turn, and runs the next one still waiting', async () => {
    const calls = callsOf(1, 30);
    const first = held();
    const [tooLong, next] = [held(), held()];
    const firstAnswer = calls.answer('ListMessages', 'query', metadata, first.handle, callOf());
    expect(await codeOf(calls.answer('ListMessages', 'query', metadata, tooLong.handle, callOf()))).toBe(status.UNAVAILABLE);
    const nextAnswer = calls.answer('ListMessages', 'query', metadata, next.handle, callOf());
    first.end();
    await settled();
    expect([tooLong.ran, next.ran]).toEqual([false, true]);
    next.end();
    expect(await Promise.all([firstAnswer, nextAnswer])).toEqual(['done', 'done']);
  });
});
