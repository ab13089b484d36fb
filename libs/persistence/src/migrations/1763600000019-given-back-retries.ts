import type { MigrationInterface, QueryRunner } from 'typeorm';
import { PROPERTY, type CounterProperties } from './1763600000011-delivery-stats';
import { inFlightRetry, redefineFailed, RETRIES_FAILED } from './1763600000016-delivery-stats-retries';

/**
 * A retry in flight whose failed send never reached the vendor (throttled, an open circuit: the
 * attempt is given back) counts as `failed` too. Migration 16 knew a retry by its attempt count,
 * which the given-back attempt resets, so during an outage such deliveries left `failed` when the
 * resend poller claimed them and came back at the next refusal: GetStats' `failed` and `sent`
 * swung with every round. A retry also carries its last error (a first send has none; a provider's
 * acceptance clears it), which tells it apart either way.
 */
export class GivenBackRetries1763600000019 implements MigrationInterface {
  name = 'GivenBackRetries1763600000019';

  async up(db: QueryRunner): Promise<void> {
    await redefineFailed(db, GIVEN_BACK_FAILED, `(${givenBackRetry('d')} AND NOT ${inFlightRetry('d')})`, '+');
  }

  async down(db: QueryRunner): Promise<void> {
    await redefineFailed(db, RETRIES_FAILED, `(${givenBackRetry('d')} AND NOT ${inFlightRetry('d')})`, '-');
  }
}

/** A retry in flight on row `r`, by its attempts or by the error its last attempt ended with, under a claim's lease. */
const givenBackRetry = (r: string): string =>
  `((${r}.status = 'queued' AND (${r}.attempts > 0 OR ${r}.last_error IS NOT NULL) OR ${r}.status = 'sent' AND (${r}.attempts > 1 OR ${r}.last_error IS NOT NULL)) AND ${r}.next_attempt_at IS NOT NULL)`;

const GIVEN_BACK_FAILED: CounterProperties = {
  ...PROPERTY,
  failed: (r) => `(${PROPERTY.failed(r)} OR ${givenBackRetry(r)})`,
};
