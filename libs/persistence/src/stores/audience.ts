import { inKeysRange } from './delivery-keys';

/**
 * The message of delivery `d` (an SQL alias) went to a topic (`to.topic`) that `d`'s user has left
 * since the message was planned. A held tier (a scheduled send, a later channel) or a retry goes out
 * days or hours after the audience was fixed, and an unsubscribe is an opt-out: such a delivery is
 * cancelled instead of sent. `message` names the message's alias where the statement joins it;
 * `keyed`, in a write by key, keeps the message's lookup to the keys' weeks (`inKeysRange`, D17).
 */
export function leftItsTopic(d: string, options: { message?: string; keyed?: boolean } = {}): string {
  const left = (m: string) =>
    `${m}.recipient ->> 'topic' IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM topic_subscriptions s WHERE s.topic = ${m}.recipient ->> 'topic' AND s.user_id = ${d}.user_id)`;
  if (options.message) return `(${left(options.message)})`;
  return `EXISTS (SELECT 1 FROM messages t
      WHERE t.id = ${d}.message_id AND t.created_at = ${d}.created_at${options.keyed ? ` AND ${inKeysRange('t')}` : ''} AND ${left('t')})`;
}
