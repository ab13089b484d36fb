import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Requests whose audience is being stored a slice of users at a time (a broadcast too large for one
 * statement, `storeInSteps`): claimed and their message stored, but not every recipient placed yet.
 * A replay of such a request resumes it rather than taking it for done. A row goes when the last
 * slice is stored, or when retention purges the request ids of its claim's age (a request stopped for
 * good keeps nothing past its message's week). No foreign key to `request_keys`: its check would cost
 * that purge a trigger call per request id ever stored. A row whose request key went first is never
 * resumed (a resume joins the key), and a later claim of its id takes it over.
 * Only the message center reads it.
 */
export class UnfinishedRequests1763600000029 implements MigrationInterface {
  name = 'UnfinishedRequests1763600000029';

  async up(db: QueryRunner): Promise<void> {
    await db.query(`
      CREATE TABLE unfinished_requests (
        request_id varchar(128) NOT NULL,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT pk_unfinished_requests PRIMARY KEY (request_id)
      )`);
  }

  async down(db: QueryRunner): Promise<void> {
    await db.query(`DROP TABLE unfinished_requests`);
  }
}
