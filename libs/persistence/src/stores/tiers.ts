import { inKeysRange } from './delivery-keys';

/**
 * Deliveries `y` and `d` are of the same user. With `=`, not IS NOT DISTINCT FROM: only `=` lets a
 * lookup find the user's deliveries of the message through `ix_deliveries_user`; the other walked
 * every delivery of the message per row, 40,000 for a broadcast to 20,000 users with a fallback tier
 * (4.8 s against 9 ms for 1,000 rows). A delivery without a user is always in tier 0 (a bare phone
 * number or address reaches one channel; its message's other channels are dead `no_endpoint`), so it
 * has no other tier to match.
 */
export const sameUser = (y: string, d: string): string => `${y}.user_id = ${d}.user_id`;

/**
 * Another fallback tier of the message of delivery `d` (an SQL alias, over the keys' range,
 * `inKeysRange`) reached its user. `FallbackStore.cancelAbove` cancels the tiers above one that
 * delivered once its event comes back through Kafka; until then, and for a tier below it that is
 * waiting for a retry, only the claim that would send the delivery can see it. A delivery for which
 * it holds is cancelled instead of reaching the user on a second channel (routing).
 */
export function anotherTierReached(d: string): string {
  return `EXISTS (SELECT 1 FROM deliveries y
      WHERE y.message_id = ${d}.message_id AND ${sameUser('y', d)} AND y.created_at = ${d}.created_at AND ${inKeysRange('y')}
        AND y.tier <> ${d}.tier AND y.status IN ('delivered', 'read', 'clicked'))`;
}
