import { Client } from 'pg';
import { jsonRows, selectJsonRows, type JsonColumn } from './rows';

const COLUMNS = [
  ['id', 'uuid'],
  ['label', 'text'],
  ['doc', 'jsonb'],
  ['at', 'timestamptz'],
  ['n', 'bigint'],
] as const satisfies readonly JsonColumn[];

describe('selectJsonRows and jsonRows', () => {
  const db = new Client({ connectionString: process.env.DATABASE_URL });
  beforeAll(() => db.connect());
  afterAll(() => db.end());

  it('read back exactly the rows they were given: text of any kind, nested JSON, NULLs, times to the millisecond', async () => {
    const first = new Date('2026-11-22T10:00:00.123Z');
    const second = new Date('2026-11-22T10:00:00.124Z');
    const rows = [
      ['0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', 'quote " backslash \\ tab \t newline \n emoji 🚚 中文', { a: [1, { b: 'c' }] }, first, 9_007_199_254_740_991],
      ['0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c', null, null, second, 0],
      ['0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5d', '', {}, first, -1],
    ];
    const { rows: read } = await db.query(
      `SELECT id, label, doc, at, n, doc IS NULL AS doc_is_null, n::text AS n_text FROM (${selectJsonRows(COLUMNS)}) AS x`,
      [jsonRows(rows)],
    );
    expect(read.map((r) => [r.id, r.label, r.doc, r.at, r.n_text, r.doc_is_null])).toEqual([
      [rows[0]![0], rows[0]![1], { a: [1, { b: 'c' }] }, first, '9007199254740991', false],
      [rows[1]![0], null, null, second, '0', true],
      [rows[2]![0], '', {}, first, '-1', false],
    ]);
  });
});
