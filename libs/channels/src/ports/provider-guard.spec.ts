import { ManualClock } from '@notify/testing';
import { RecordingLog } from '../../test/recording-log';
import { failureOf } from '../../test/outcome';
import { ProviderError, ProviderErrorCode } from './provider-error';
import { ProviderGuard, sendExpiresAt, sendsClaimedAt } from './provider-guard';
import { CALL_BUDGET_MS, DEFAULT_PROVIDER_LIMITS, type ProviderLimits } from './provider-limits';

const vendorDown = (): Promise<never> => Promise.reject(new ProviderError({ provider: 'test', code: ProviderErrorCode.Unavailable, status: 503, message: 'down' }));
const badToken = (): Promise<never> =>
  Promise.reject(new ProviderError({ provider: 'test', code: ProviderErrorCode.InvalidEndpoint, deactivateToken: true, message: 'bad token' }));

function guard(limits: Partial<ProviderLimits>, log = new RecordingLog(), clock = new ManualClock()): ProviderGuard {
  return new ProviderGuard('test', { ...DEFAULT_PROVIDER_LIMITS, ...limits }, log, clock);
}

/** Moves only `Date` (what cockatiel's breaker reads); timers and I/O stay real. */
function controlDate(): void {
  jest.useFakeTimers({
    doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
  });
}

describe('ProviderGuard', () => {
  afterEach(() => jest.useRealTimers());

  it('opens the circuit after consecutive vendor failures, then refuses without calling', async () => {
    const log = new RecordingLog();
    const subject = guard({ breakerFailures: 3, breakerHalfOpenAfterMs: 30_000 }, log);
    for (let i = 0; i < 3; i += 1) expect((await failureOf(subject.run(vendorDown))).code).toBe('unavailable');
    let called = false;
    const refused = await failureOf(
      subject.run(() => {
        called = true;
        return Promise.resolve('sent');
      }),
    );
    expect(refused).toMatchObject({ kind: 'transient', code: 'circuit_open', retryAfterMs: 30_000 });
    expect(called).toBe(false);
    expect(subject.circuit).toBe('open');
    expect(log.lines.some((line) => line.fields['event'] === 'circuit_open')).toBe(true);
  });

  it('lets one trial call through after the half-open delay and closes on its success', async () => {
    controlDate();
    const log = new RecordingLog();
    const subject = guard({ breakerFailures: 2, breakerHalfOpenAfterMs: 30_000 }, log);
    await failureOf(subject.run(vendorDown));
    await failureOf(subject.run(vendorDown));
    expect(subject.circuit).toBe('open');
    jest.setSystemTime(Date.now() + 29_000);
    expect((await failureOf(subject.run(() => Promise.resolve('sent')))).code).toBe('circuit_open');
    jest.setSystemTime(Date.now() + 2_000);
    await expect(subject.run(() => Promise.resolve('sent'))).resolves.toBe('sent');
    expect(subject.circuit).toBe('closed');
    expect(log.lines.some((line) => line.fields['event'] === 'circuit_closed')).toBe(true);
  });

  it('tells how long the vendor has been failing, from the first opening until the circuit closes again', async () => {
    controlDate();
    const clock = new ManualClock();
    const subject = guard({ breakerFailures: 1, breakerHalfOpenAfterMs: 1_000 }, new RecordingLog(), clock);
    const elapse = (ms: number) => {
      clock.advance(ms);
      jest.setSystemTime(Date.now() + ms);
    };
    await failureOf(subject.run(vendorDown));
    elapse(5_000);
    expect((await failureOf(subject.run(vendorDown))).code).toBe('unavailable'); // the trial fails: open again
    elapse(500);
    expect(await failureOf(subject.run(() => Promise.resolve('sent')))).toMatchObject({ code: 'circuit_open', outageMs: 5_500 });
    elapse(1_000);
    await expect(subject.run(() => Promise.resolve('sent'))).resolves.toBe('sent');
    await failureOf(subject.run(vendorDown));
    expect(await failureOf(subject.run(() => Promise.resolve('sent')))).toMatchObject({ code: 'circuit_open', outageMs: 0 });
  });

  it('opens again when the trial call fails', async () => {
    controlDate();
    const subject = guard({ breakerFailures: 1, breakerHalfOpenAfterMs: 1_000 });
    await failureOf(subject.run(vendorDown));
    jest.setSystemTime(Date.now() + 1_001);
    expect((await failureOf(subject.run(vendorDown))).code).toBe('unavailable');
    expect(subject.circuit).toBe('open');
  });

  it('does not count permanent errors against the vendor', async () => {
    const subject = guard({ breakerFailures: 2 });
    for (let i = 0; i < 5; i += 1) expect((await failureOf(subject.run(badToken))).deactivateToken).toBe(true);
    expect(subject.circuit).toBe('closed');
  });

  it('holds calls beyond the concurrency limit and refuses those beyond the queue', async () => {
    const subject = guard({ concurrency: 2, queue: 1 });
    let inFlight = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const call = (): Promise<string> =>
      new Promise((resolve) => {
        inFlight += 1;
        peak = Math.max(peak, inFlight);
        releases.push(() => {
          inFlight -= 1;
          resolve('sent');
        });
      });
    const running = [subject.run(call), subject.run(call), subject.run(call)];
    expect((await failureOf(subject.run(call))).code).toBe('overloaded');
    while (releases.length > 0 || inFlight > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await expect(Promise.all(running)).resolves.toEqual(['sent', 'sent', 'sent']);
    expect(peak).toBe(2);
  });

  it('refuses, without making it, a call whose slot came too late for it to end within the budget of a claim', async () => {
    const clock = new ManualClock();
    const limits = { concurrency: 1, queue: 10, timeoutMs: 10_000, maxRateWaitMs: 5_000 };
    const subject = guard(limits, new RecordingLog(), clock);
    const made: string[] = [];
    let release!: () => void;
    const slow = subject.run(() => (made.push('slow'), new Promise<string>((resolve) => (release = () => resolve('sent')))));
    const late = [1, 2, 3].map(() => subject.run(async () => (made.push('late'), 'sent')));
    await new Promise((resolve) => setImmediate(resolve));
    // The first call holds its slot until those behind it could no longer end in time; one asked since still can.
    clock.advance(CALL_BUDGET_MS - limits.timeoutMs - limits.maxRateWaitMs);
    const askedLater = subject.run(async () => (made.push('asked later'), 'sent'));
    clock.advance(1);
    release();
    await expect(slow).resolves.toBe('sent');
    for (const call of late) expect(await failureOf(call)).toMatchObject({ code: 'overloaded', kind: 'transient' });
    await expect(askedLater).resolves.toBe('sent');
    expect(made).toEqual(['slow', 'asked later']);
  });

  it('counts the budget from when the sends were claimed, when the caller says so: time spent waiting before the guard counts too', async () => {
    const clock = new ManualClock();
    const limits = { timeoutMs: 10_000, maxRateWaitMs: 5_000 };
    const subject = guard(limits, new RecordingLog(), clock);
    const made: string[] = [];
    const longest = CALL_BUDGET_MS - limits.timeoutMs - limits.maxRateWaitMs;
    // A free slot at once, but the sends were claimed longer ago than the budget leaves for waiting.
    const late = sendsClaimedAt.run(clock.now() - longest - 1, () => subject.run(async () => (made.push('late'), 'sent')));
    expect(await failureOf(late)).toMatchObject({ code: 'overloaded', kind: 'transient' });
    await expect(sendsClaimedAt.run(clock.now() - longest, () => subject.run(async () => (made.push('in time'), 'sent')))).resolves.toBe('sent');
    expect(made).toEqual(['in time']);
    // Limits whose timeout and rate wait take the whole budget still leave a minute, not nothing.
    const slow = guard({ timeoutMs: 300_000, maxRateWaitMs: 300_000 }, new RecordingLog(), clock);
    await expect(sendsClaimedAt.run(clock.now() - 59_000, () => slow.run(async () => (made.push('slow limits'), 'sent')))).resolves.toBe('sent');
    expect((await failureOf(sendsClaimedAt.run(clock.now() - 61_000, () => slow.run(async () => 'sent')))).code).toBe('overloaded');
  });

  it('once stopped, refuses the calls waiting for a slot or a rate slot without making them, and finishes the call in flight', async () => {
    const stopped = new AbortController();
    const clock = new ManualClock();
    const subject = new ProviderGuard('test', { ...DEFAULT_PROVIDER_LIMITS, concurrency: 1, queue: 10, ratePerSecond: 1, burst: 1, maxRateWaitMs: 5_000 }, new RecordingLog(), clock, stopped.signal);
    const made: string[] = [];
    let release!: () => void;
    const inFlight = subject.run(() => {
      made.push('in flight');
      return new Promise<string>((resolve) => (release = () => resolve('sent')));
    });
    const queued = [1, 2, 3].map((n) => subject.run(async () => void made.push(`queued ${n}`)));
    await new Promise((resolve) => setImmediate(resolve));
    stopped.abort();
    release();
    await expect(inFlight).resolves.toBe('sent');
    for (const call of queued) expect(await failureOf(call)).toMatchObject({ code: 'overloaded', kind: 'transient', retryAfterMs: 0 });
    expect(made).toEqual(['in flight']);
    // A call waiting for its rate slot when the stop comes is not made either, nor waited for.
    const running = new AbortController();
    const paced = new ProviderGuard('test', { ...DEFAULT_PROVIDER_LIMITS, ratePerSecond: 1, burst: 1, maxRateWaitMs: 5_000 }, new RecordingLog(), clock, running.signal);
    await paced.run(async () => void made.push('first'));
    const waiting = paced.run(async () => void made.push('second'));
    await new Promise((resolve) => setImmediate(resolve));
    // Refused at once, not after the second its rate slot is away.
    running.abort();
    expect(await failureOf(waiting)).toMatchObject({ code: 'overloaded' });
    expect(made).toEqual(['in flight', 'first']);
  });

  it('does not make a call whose message expired while it waited for its slot or its rate slot: it is refused as expired', async () => {
    const clock = new ManualClock();
    const subject = guard({ concurrency: 1, queue: 10, ratePerSecond: 1, burst: 1, maxRateWaitMs: 5_000 }, new RecordingLog(), clock);
    const made: string[] = [];
    const expiresAt = clock.now() + 500;
    await expect(sendExpiresAt.run(expiresAt, () => subject.run(async () => (made.push('first'), 'sent')))).resolves.toBe('sent');
    // Its rate slot is a second away, after the message's expiry.
    const waiting = sendExpiresAt.run(expiresAt, () => subject.run(async () => (made.push('after its expiry'), 'sent')));
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(1_000);
    expect(await failureOf(waiting)).toMatchObject({ code: 'expired', kind: 'permanent' });
    // Expired already when asked, or without an expiry at all.
    expect(await failureOf(sendExpiresAt.run(clock.now(), () => subject.run(async () => (made.push('expired'), 'sent'))))).toMatchObject({ code: 'expired' });
    clock.advance(1_000);
    await expect(sendExpiresAt.run(undefined, () => subject.run(async () => (made.push('no expiry'), 'sent')))).resolves.toBe('sent');
    expect(made).toEqual(['first', 'no expiry']);
  });

  it('judges a call queued for a slot by its own message’s expiry, not by that of the call whose slot it takes', async () => {
    const clock = new ManualClock();
    const subject = guard({ concurrency: 1, queue: 10 }, new RecordingLog(), clock);
    const made: string[] = [];
    let release!: () => void;
    // A call for a message that expires soon holds the one slot; behind it, calls for messages that never expire, and one that expired.
    const first = sendExpiresAt.run(clock.now() + 1_000, () => subject.run(() => (made.push('first'), new Promise<string>((resolve) => (release = () => resolve('sent'))))));
    const noExpiry = [1, 2].map((n) => sendExpiresAt.run(undefined, () => subject.run(async () => (made.push(`no expiry ${n}`), 'sent'))));
    const expiring = sendExpiresAt.run(clock.now() + 500, () => subject.run(async () => (made.push('expiring'), 'sent')));
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(2_000);
    release();
    await expect(first).resolves.toBe('sent');
    await expect(Promise.all(noExpiry)).resolves.toEqual(['sent', 'sent']);
    expect(await failureOf(expiring)).toMatchObject({ code: 'expired' });
    expect(made).toEqual(['first', 'no expiry 1', 'no expiry 2']);
  });

  it('waits for a rate slot on the clock, and refuses when the wait would be too long', async () => {
    const clock = new ManualClock();
    const subject = guard({ ratePerSecond: 1, burst: 1, maxRateWaitMs: 1_000 }, new RecordingLog(), clock);
    await expect(subject.run(() => Promise.resolve('first'))).resolves.toBe('first');
    let secondDone = false;
    const second = subject.run(() => Promise.resolve('second')).then((value) => {
      secondDone = true;
      return value;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.waiting).toBe(1);
    expect(secondDone).toBe(false);
    const third = await failureOf(subject.run(() => Promise.resolve('third')));
    expect(third).toMatchObject({ code: 'throttled', kind: 'transient', retryAfterMs: 2_000 });
    clock.advance(1_000);
    await expect(second).resolves.toBe('second');
  });

  it('ends a call that outlives its timeout and aborts its signal', async () => {
    const subject = guard({ timeoutMs: 50 });
    let signalSeen: AbortSignal | undefined;
    const failure = await failureOf(
      subject.run((signal) => {
        signalSeen = signal;
        return new Promise(() => undefined);
      }),
    );
    expect(failure).toMatchObject({ kind: 'transient', code: 'timeout' });
    expect(signalSeen?.aborted).toBe(true);
  });

  it('counts timeouts as the vendor failing: they open the circuit, and a trial call that hangs opens it again', async () => {
    controlDate();
    const subject = guard({ timeoutMs: 20, breakerFailures: 3, breakerHalfOpenAfterMs: 1_000 });
    const hang = (): Promise<never> => new Promise(() => undefined);
    for (let i = 0; i < 3; i += 1) expect((await failureOf(subject.run(hang))).code).toBe('timeout');
    expect(subject.circuit).toBe('open');
    expect((await failureOf(subject.run(() => Promise.resolve('sent')))).code).toBe('circuit_open');

    jest.setSystemTime(Date.now() + 1_001);
    expect((await failureOf(subject.run(hang))).code).toBe('timeout');
    expect(subject.circuit).toBe('open');
  });

  it('logs a configuration error as an alert and still throws it', async () => {
    const log = new RecordingLog();
    const subject = guard({}, log);
    const refused = new ProviderError({ provider: 'test', code: ProviderErrorCode.BadCredentials, status: 401, message: 'key refused' });
    const failure = await failureOf(subject.run(() => Promise.reject(refused)));
    expect(failure.kind).toBe('configuration');
    expect(log.lines).toEqual([expect.objectContaining({ level: 'error', fields: expect.objectContaining({ alert: 'provider_configuration' }) })]);
  });

  it('logs one alert per kind of configuration error every 10 s, saying how many it held back', async () => {
    const log = new RecordingLog();
    const clock = new ManualClock();
    const subject = guard({}, log, clock);
    const refused = new ProviderError({ provider: 'test', code: ProviderErrorCode.BadCredentials, status: 401, message: 'key refused' });
    for (let call = 0; call < 100; call++) await failureOf(subject.run(() => Promise.reject(refused)));
    clock.advance(10_000);
    await failureOf(subject.run(() => Promise.reject(refused)));
    expect(log.lines.map((line) => line.fields['heldBack'])).toEqual([0, 99]);
  });

  it('masks an account or a recipient a vendor quotes in a configuration error before logging it', async () => {
    const log = new RecordingLog();
    const refused = new ProviderError({
      provider: 'test',
      code: ProviderErrorCode.BadCredentials,
      status: 403,
      message: 'permission denied for notify-sender@acme-prod.iam.gserviceaccount.com sending to +8613800138000',
    });
    await failureOf(guard({}, log).run(() => Promise.reject(refused)));
    expect(JSON.stringify(log.lines)).not.toMatch(/notify-sender@acme-prod|13800138000/);
    expect(JSON.stringify(log.lines)).toContain('permission denied');
  });

  it('turns anything else thrown inside into an unexpected transient error', async () => {
    const failure = await failureOf(guard({}).run(() => Promise.reject(new TypeError('boom'))));
    expect(failure).toMatchObject({ kind: 'transient', code: 'unexpected', provider: 'test' });
  });
});
