import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs SQL and returns its rows. TypeORM's `query()` answers an UPDATE … RETURNING with
 * `[rows, count]` but an INSERT … RETURNING with the rows; the structured result is the same for both.
 */
export async function queryRows<T>(db: DataSource | EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const manager = 'manager' in db ? db.manager : db;
  const runner = manager.queryRunner ?? manager.connection.createQueryRunner();
  try {
    const result = await runner.query(sql, params, true);
    return result.records as T[];
  } finally {
    if (!manager.queryRunner) await runner.release();
  }
}

/** A column of rows handed to PostgreSQL as one JSON parameter: its name and SQL type. */
export type JsonColumn = readonly [name: string, type: string];

/**
 * The `SELECT` that turns a parameter made by `jsonRows` back into typed rows, for a multi-row
 * `INSERT … SELECT`. One JSON text is far cheaper to encode than a PostgreSQL array per column
 * (pg escapes every element of an array in JavaScript; `JSON.stringify` is native), and PostgreSQL
 * reads rows of positional values faster than objects with named fields. A JSON `null` is SQL NULL
 * in every column, `jsonb` ones too. The rows come from `json_rows`, which the planner takes for one
 * row, so keys joined to a table are looked up by index one by one (migration 1763600000015).
 * A statement that joins parameters' rows to each other (and to rows it inserts) takes them from
 * `jsonb_array_elements`, which the planner takes for a hundred: with one-row estimates on both
 * sides it joined them in a nested loop, comparing every pair, and a 500-request ingest statement
 * took 236 ms instead of 27 (docs/benchmarks.md, "one statement per batch").
 */
export function selectJsonRows(columns: readonly JsonColumn[], param = '$1', rowsOf: 'json_rows' | 'jsonb_array_elements' = 'json_rows'): string {
  const fields = columns.map(([name, type], i) => (type === 'jsonb' ? `NULLIF(e->${i}, 'null') AS ${name}` : `(e->>${i})::${type} AS ${name}`));
  return `SELECT ${fields.join(', ')} FROM ${rowsOf}(${param}::jsonb) AS e`;
}

/**
 * Rows as one JSON parameter for `selectJsonRows`: each row's values in the order of its columns.
 * Dates are written as ISO 8601 here, each distinct time once: the rows of a batch share a few
 * times, and `JSON.stringify` calling `toJSON` on every Date made it three times slower.
 */
export function jsonRows(rows: readonly (readonly unknown[])[]): string {
  let lastMs = Number.NaN;
  let lastIso = '';
  const out = new Array<unknown[]>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const values = new Array<unknown>(row.length);
    for (let j = 0; j < row.length; j++) {
      const value = row[j];
      if (value instanceof Date) {
        const ms = value.getTime();
        if (ms !== lastMs) {
          lastMs = ms;
          lastIso = value.toISOString();
        }
        values[j] = lastIso;
      } else {
        values[j] = value;
      }
    }
    out[i] = values;
  }
  return JSON.stringify(out);
}

/** `INSERT INTO table (columns) SELECT …` of the rows in the `jsonRows` parameter `$1`. */
/**
 * Rows per statement for writes whose row count has no bound of its own (a topic's subscribers).
 * One JSON parameter must stay under PostgreSQL's 255 MB for a jsonb value: a broadcast to a
 * million subscribers made one larger than that, and its request was refused as bad input. At a few
 * hundred bytes a row this is a few MB per statement.
 */
export const ROWS_PER_STATEMENT = 20_000;

/** `items` in slices of at most `size`, in order. */
export function inSlices<T>(items: readonly T[], size = ROWS_PER_STATEMENT): T[][] {
  const slices: T[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  return slices;
}

export function insertJsonRows(table: string, columns: readonly JsonColumn[]): string {
  return `INSERT INTO ${table} (${columnNames(columns)}) ${selectJsonRows(columns)}`;
}

/** The columns' names as a list for SQL, each after `prefix` (a table alias and its dot). */
export function columnNames(columns: readonly JsonColumn[], prefix = ''): string {
  return columns.map(([name]) => prefix + name).join(', ');
}
