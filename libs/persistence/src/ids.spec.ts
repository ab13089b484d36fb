import { newId, timeOfId } from './ids';

describe('newId', () => {
  it('is a version 7 UUID that carries its creation time to the millisecond', () => {
    const at = new Date('2026-11-22T10:00:00.123Z');
    const id = newId(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(timeOfId(id)).toEqual(at);
  });

  it('sorts by time and never repeats', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => newId(new Date(1_700_000_000_000 + i)));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
  });

  it('has no time for an id it did not make', () => {
    expect(timeOfId('5d8f6a3e-1b2c-4d5e-8f90-123456789abc')).toBeUndefined();
    expect(timeOfId('not-an-id')).toBeUndefined();
  });

  it('has no time for a version 7 id past the year 9999, which no row can carry', () => {
    expect(timeOfId('ffffffff-ffff-7fff-bfff-ffffffffffff')).toBeUndefined();
    expect(timeOfId(newId(new Date('9999-12-31T23:59:59.999Z')))).toEqual(new Date('9999-12-31T23:59:59.999Z'));
  });
});
