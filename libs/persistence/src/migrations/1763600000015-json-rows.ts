import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `json_rows(jsonb)`: the elements of a JSON array, which is how the stores hand PostgreSQL the rows
 * of a batch (`selectJsonRows`), estimated at one row instead of `jsonb_array_elements`' hundred.
 *
 * The estimate decides how a batch of keys meets `deliveries`. Early in a partition's life, before
 * autovacuum has analyzed it (a new day's first minute, a fresh installation), the planner's default
 * selectivities made the partition side look like one row. It then scanned the partition once and,
 * for each of its rows, the whole key array: a 500-key claim over a new 20,000-row partition took
 * 3.5 s. With the keys estimated at one row they always lead, each looked up in the primary key,
 * whatever the partition's statistics say (7.7 ms for the same claim). For the multi-row inserts
 * the estimate changes nothing.
 *
 * A SQL function with a `SET` clause is never inlined, so its `ROWS` estimate is the one planned with.
 */
export class JsonRows1763600000015 implements MigrationInterface {
  name = 'JsonRows1763600000015';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE FUNCTION json_rows(jsonb) RETURNS SETOF jsonb
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE ROWS 1 SET search_path = pg_catalog
        AS 'SELECT jsonb_array_elements($1)'`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP FUNCTION json_rows(jsonb)`);
  }
}
