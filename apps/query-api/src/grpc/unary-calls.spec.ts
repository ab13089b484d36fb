import { Metadata, status } from '@grpc/grpc-js';
import type { RpcException } from '@nestjs/microservices';
import { createLogger, Metrics } from '@notify/observability';
import { ApiKeyAuthenticator } from '../auth/api-key-authenticator';
import { GetMessageRequestSchema } from '../messages/message-query.requests';
import { parseRequest } from './request-fields';
import { API_KEY_HEADER, UnaryCalls, type CallState } from './unary-calls';

const BOOTSTRAP = 'bootstrap-key-0123456789';
/** A method whose request has nothing to read. */
const noRequest = () => ({});

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

/** The `x-api-key` metadata of a key. */
function keyMetadata(key: string): Metadata {
  const metadata = new Metadata();
  metadata.set(API_KEY_HEADER, key);
  return metadata;
}

/** Every key but the bootstrap one is a key of the `query` scope named after itself. */
const keysNamedAsThemselves = { findActive: async (key: string) => ({ id: key, name: key, scopes: ['query' as const], createdAt: new Date(), revokedAt: null }) };

describe('UnaryCalls turns', () => {
  const metadata = keyMetadata(BOOTSTRAP);
  const callsOf = (concurrency: number, waitMs = 10_000, mostPerKey?: number) =>
    new UnaryCalls(
      new ApiKeyAuthenticator(keysNamedAsThemselves, { bootstrapApiKey: BOOTSTRAP, apiKeyCacheMs: 0 }),
      new Metrics(`unary-calls-turns-${concurrency}-${waitMs}-${Math.random()}`),
      createLogger('unary-calls-spec', 'silent'),
      { concurrency, waitMs, ...(mostPerKey === undefined ? {} : { mostPerKey }) },
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
    const answers = works.map((work, i) => calls.answer('ListMessages', 'query', keyMetadata(`key-${i}`), noRequest, work.handle, callOf()));
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

  it('leaves one turn free of a busy key for the others, hands freed turns to a key below half first, and refuses a key more than its most calls at once', async () => {
    const calls = callsOf(4, 10_000, 8);
    const [busy, other] = [keyMetadata('busy-service'), keyMetadata('other-service')];
    const busyWorks = Array.from({ length: 8 }, () => held());
    const busyAnswers = busyWorks.map((work) => calls.answer('ListMessages', 'query', busy, noRequest, work.handle, callOf()));
    await settled();
    // Alone, the busy key has every turn but one at work, five calls waiting.
    expect(busyWorks.map((w) => w.ran)).toEqual([true, true, true, false, false, false, false, false]);
    const refused = held();
    expect(await codeOf(calls.answer('ListMessages', 'query', busy, noRequest, refused.handle, callOf()))).toBe(status.RESOURCE_EXHAUSTED);
    expect(refused.ran).toBe(false);
    // The other key's first call takes the turn left free; its second waits, ahead of the busy key's
    // waiting calls for the first turn freed: the other key is below half the turns.
    const otherWorks = [held(), held(), held()];
    const otherAnswers = otherWorks.slice(0, 2).map((work) => calls.answer('ListMessages', 'query', other, noRequest, work.handle, callOf()));
    await settled();
    expect(otherWorks.map((w) => w.ran)).toEqual([true, false, false]);
    busyWorks[0]!.end();
    await settled();
    expect(otherWorks.map((w) => w.ran)).toEqual([true, true, false]);
    expect(busyWorks.filter((w) => w.ran)).toHaveLength(3);
    // Two turns each now: a freed turn goes to the first waiting call whose key is below its cap.
    otherAnswers.push(calls.answer('ListMessages', 'query', other, noRequest, otherWorks[2]!.handle, callOf()));
    busyWorks[1]!.end();
    await settled();
    expect(busyWorks.map((w) => w.ran)).toEqual([true, true, true, true, false, false, false, false]);
    expect(otherWorks[2]!.ran).toBe(false);
    for (const work of [...busyWorks, ...otherWorks]) {
      work.end();
      await settled();
    }
    expect(await Promise.all([...busyAnswers, ...otherAnswers])).toEqual(Array.from({ length: 11 }, () => 'done'));
  });

  it('drops a call whose client hung up or whose deadline passed while it waited, without running it', async () => {
    const calls = callsOf(1);
    const first = held();
    const [gone, late, waited] = [held(), held(), held()];
    const goneCall = callOf();
    const answers = [
      calls.answer('ListMessages', 'query', keyMetadata('key-1'), noRequest, first.handle, callOf()),
      codeOf(calls.answer('ListMessages', 'query', keyMetadata('key-2'), noRequest, gone.handle, goneCall)),
      codeOf(calls.answer('ListMessages', 'query', keyMetadata('key-3'), noRequest, late.handle, callOf(20))),
      codeOf(calls.answer('GetMessage', 'query', keyMetadata('key-4'), noRequest, waited.handle, callOf())),
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
    const firstAnswer = calls.answer('ListMessages', 'query', metadata, noRequest, first.handle, callOf());
    const keyless = held();
    expect(await codeOf(calls.answer('ListMessages', 'query', new Metadata(), noRequest, keyless.handle, callOf()))).toBe(status.UNAUTHENTICATED);
    expect(keyless.ran).toBe(false);
    first.end();
    expect(await firstAnswer).toBe('done');
  });

  it('answers an invalid request at once, even while every turn is taken', async () => {
    const calls = callsOf(1);
    const first = held();
    const firstAnswer = calls.answer('ListMessages', 'query', metadata, noRequest, first.handle, callOf());
    const invalid = held();
    const read = () => parseRequest(GetMessageRequestSchema, { id: 'not-a-message-id' });
    expect(await codeOf(calls.answer('GetMessage', 'query', metadata, read, invalid.handle, callOf()))).toBe(status.INVALID_ARGUMENT);
    expect(invalid.ran).toBe(false);
    first.end();
    expect(await firstAnswer).toBe('done');
  });

  it('answers UNAVAILABLE to a call that waited longer than waitMs for its turn, and runs the next one still waiting', async () => {
    const calls = callsOf(1, 30);
    const first = held();
    const [tooLong, next] = [held(), held()];
    const firstAnswer = calls.answer('ListMessages', 'query', metadata, noRequest, first.handle, callOf());
    expect(await codeOf(calls.answer('ListMessages', 'query', metadata, noRequest, tooLong.handle, callOf()))).toBe(status.UNAVAILABLE);
    const nextAnswer = calls.answer('ListMessages', 'query', metadata, noRequest, next.handle, callOf());
    first.end();
    await settled();
    expect([tooLong.ran, next.ran]).toEqual([false, true]);
    next.end();
    expect(await Promise.all([firstAnswer, nextAnswer])).toEqual(['done', 'done']);
  });
});

describe('UnaryCalls database errors', () => {
  const metadata = new Metadata();
  metadata.set(API_KEY_HEADER, BOOTSTRAP);
  const calls = new UnaryCalls(
    new ApiKeyAuthenticator({ findActive: async () => undefined }, { bootstrapApiKey: BOOTSTRAP, apiKeyCacheMs: 0 }),
    new Metrics('unary-calls-errors-spec'),
    createLogger('unary-calls-spec', 'silent'),
    { concurrency: 1, waitMs: 10_000 },
  );
  const statusOf = (code: string) =>
    calls.answer('UpsertRecipient', 'recipients', metadata, noRequest, () => Promise.reject(Object.assign(new Error(`SQLSTATE ${code}`), { code }))).then(
      () => status.OK,
      (error: unknown) => ((error as RpcException).getError() as { code: status }).code,
    );

  it.each([
    ['25006', 'read-only transaction: a primary demoted by a failover', 'UNAVAILABLE'],
    ['53100', 'disk full', 'UNAVAILABLE'],
    ['53200', 'out of memory', 'UNAVAILABLE'],
    ['53300', 'too many connections', 'UNAVAILABLE'],
    ['40P01', 'deadlock detected', 'ABORTED'],
    ['40001', 'serialization failure', 'ABORTED'],
    ['57014', 'statement timeout', 'DEADLINE_EXCEEDED'],
    ['23505', 'unique violation', 'INTERNAL'],
  ])('answers SQLSTATE %s (%s) %s', async (code, _meaning, expected) => {
    expect(status[await statusOf(code)]).toBe(expected);
  });
});
