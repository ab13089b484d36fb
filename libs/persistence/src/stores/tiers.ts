import { inKeysRange } from './delivery-keys';

/**
 * Another fallback tier of the message of delivery `d` (an SQL alias, over the keys' range,
 * `inKeysRange`) reached its user. `FallbackStore.cancelAbove` cancels the tiers above one that
 * delivered once its event comes back through Kafka; until then, and for a tier below it that is
 * waiting for a retry, only the claim that would send the delivery can see it. A delivery that
 * passed such a check is cancelled instead of reaching the user on a second channel (routing).
 */
export function anotherTierReached(d: string): string {
  return `EXISTS (SELECT 1 FROM deliveries y
      WHERE y.message_id = ${d}.message_id AND y.user_id IS NOT DISTINCT FROM ${d}.user_id AND y.created_at = ${d}.created_at AND ${inKeysRange('y')}
        AND y.tier <> ${d}.tier AND y.status IN ('delivered', 'read', 'clicked'))`;
}
