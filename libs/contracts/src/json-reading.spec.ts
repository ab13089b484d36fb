import { MAX_USER_IDS } from './notification-request';
import { readRecipientUpdateText, readRequestText } from './json-reading';
import { MAX_LISTED_PROBLEMS, problemsReason } from './schema-problems';

const request = (fields: Record<string, unknown> = {}): string => JSON.stringify({ id: 'r-1', type: 'ping', to: { userId: 'u-1' }, ...fields });

describe('reading a request', () => {
  it('refuses an expiresAt at or before its sendAt, which could never be delivered', () => {
    for (const expiresAt of ['2026-12-01T09:00:00Z', '2026-12-01T10:00:00+01:00', '2026-12-01T08:59:59.999Z']) {
      expect(readRequestText(request({ sendAt: '2026-12-01T09:00Z', expiresAt }))).toMatchObject({ ok: false, code: 'schema_violation', problems: ['expiresAt: must be after sendAt'] });
    }
    expect(readRequestText(request({ sendAt: '2026-12-01T09:00Z', expiresAt: '2026-12-01T09:00:00.001Z' })).ok).toBe(true);
  });

  it('takes an expiresAt or a sendAt alone, also one in the past', () => {
    expect(readRequestText(request({ expiresAt: '2001-01-01T00:00:00Z' })).ok).toBe(true);
    expect(readRequestText(request({ sendAt: '2999-01-01T00:00:00Z' })).ok).toBe(true);
    expect(readRequestText(request({ sendAt: null, expiresAt: '2001-01-01T00:00:00Z' })).ok).toBe(true);
    // Go's zero time is no sendAt, so the expiresAt is not compared with it.
    expect(readRequestText(request({ sendAt: '0001-01-01T00:00:00Z', expiresAt: '2001-01-01T00:00:00Z' })).ok).toBe(true);
  });

  it('gives every problem, and a DLQ reason of the first ten that says how many more there are', () => {
    const userIds = Array.from({ length: MAX_USER_IDS }, (_, i) => i);
    const reading = readRequestText(request({ to: { userIds } }));
    expect(reading).toMatchObject({ ok: false, code: 'schema_violation' });
    const problems = reading.ok ? [] : reading.problems;
    expect(problems).toHaveLength(MAX_USER_IDS);
    expect(problems[0]).toBe('to.userIds.0: Invalid input: expected string, received number');
    expect(problemsReason(problems)).toMatch(/^to\.userIds\.0: .*; to\.userIds\.9: [^;]*; …and 990 more$/);
  });

  it.each([
    ['a request', readRequestText, request()],
    ['a recipient update', readRecipientUpdateText, '{"op":"subscribe","userId":"u-1","topic":"t"}'],
  ])('says that %s starting with a byte order mark does, which the parse gives no position for', (_case, read, text) => {
    expect(read(`\uFEFF${text}`)).toEqual({ ok: false, code: 'invalid_json', problems: ['not valid JSON: starts with a byte order mark (U+FEFF)'] });
    expect(read(text).ok).toBe(true);
  });
});

describe('problemsReason', () => {
  it('keeps ten problems or fewer as they are', () => {
    const ten = Array.from({ length: MAX_LISTED_PROBLEMS }, (_, i) => `p${i}`);
    expect(problemsReason(ten)).toBe(ten.join('; '));
    expect(problemsReason([...ten, 'p10'])).toBe(`${ten.join('; ')}; …and 1 more`);
  });
});
