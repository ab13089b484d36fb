import { SettleGate } from './settle-gate';

/** A gate whose `settled` the test turns on, and the order in which its callers went. */
function gateUnderTest(longestWaitMs = 5_000) {
  let isSettled = false;
  const went: string[] = [];
  const gate = new SettleGate({ settled: () => isSettled, longestWaitMs, checkEveryMs: 100 });
  const ask = (name: string) => gate.whenSettled(() => void went.push(name));
  return { gate, went, ask, settle: () => void (isSettled = true) };
}

describe('SettleGate', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('lets a caller go at once when settled and nobody is held', () => {
    const { went, ask, settle } = gateUnderTest();
    settle();
    ask('a');
    expect(went).toEqual(['a']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('holds callers while unsettled and lets them go in order at the first check once settled', () => {
    const { went, ask, settle } = gateUnderTest();
    ask('a');
    ask('b');
    ask('c');
    jest.advanceTimersByTime(1_000);
    expect(went).toEqual([]);
    settle();
    jest.advanceTimersByTime(100);
    expect(went).toEqual(['a', 'b', 'c']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('lets a caller that comes once settled, before the next check, go behind those held', () => {
    const { went, ask, settle } = gateUnderTest();
    ask('held');
    jest.advanceTimersByTime(50);
    settle();
    ask('after');
    expect(went).toEqual(['held', 'after']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('lets every caller of one loop that comes once settled go behind those held, in order', () => {
    const { went, ask, settle } = gateUnderTest();
    ask('held');
    settle();
    for (const name of ['first of the loop', 'second of the loop']) ask(name);
    expect(went).toEqual(['held', 'first of the loop', 'second of the loop']);
  });

  it('lets those held go at the longest wait of the first, settled or not', () => {
    const { went, ask } = gateUnderTest(1_000);
    ask('a');
    jest.advanceTimersByTime(500);
    ask('b');
    jest.advanceTimersByTime(400);
    expect(went).toEqual([]);
    jest.advanceTimersByTime(100);
    expect(went).toEqual(['a', 'b']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('lets those held go at once on releaseAll, leaving no timer behind, and holds again afterwards', () => {
    const { gate, went, ask } = gateUnderTest();
    ask('a');
    ask('b');
    gate.releaseAll();
    expect(went).toEqual(['a', 'b']);
    expect(jest.getTimerCount()).toBe(0);
    ask('c');
    expect(went).toEqual(['a', 'b']);
    expect(jest.getTimerCount()).toBe(1);
  });
});
