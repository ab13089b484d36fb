import { DurationSchema } from './duration';

describe('DurationSchema', () => {
  it.each<[string | number, number]>([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['0s', 0],
    [30, 30_000],
    [0, 0],
    [1.5, 1_500],
  ])('reads %p as %p milliseconds', (text, ms) => {
    expect(DurationSchema.parse(text)).toBe(ms);
  });

  it.each<[string, unknown]>([
    ['a negative number', -1],
    ['a number without a unit, as a string', '30'],
    ['an unknown unit', '2w'],
    ['a decimal amount', '1.5h'],
    ['a negative amount', '-5m'],
    ['a space before the unit', '30 s'],
    ['an upper-case unit', '30S'],
    ['a unit without an amount', 'ms'],
    ['two units', '1h30m'],
    ['an empty string', ''],
    ['a boolean', true],
    ['null', null],
  ])('rejects %s', (_case, value) => {
    expect(DurationSchema.safeParse(value).success).toBe(false);
  });

  it('explains the expected form in its message', () => {
    const result = DurationSchema.safeParse('soon');
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('30s');
  });
});
