/**
 * The message of delivery `d` (an SQL alias; `m` its message's, if the statement joins it) went to a
 * topic (`to.topic`) that `d`'s user has left since the message was planned. A held tier (a
 * scheduled send, a later channel) or a retry goes out days or hours after the audience was fixed,
 * and an unsubscribe is an opt-out: such a delivery is cancelled instead of sent.
 */
export function leftItsTopic(d: string, m?: string): string {
  const left = (message: string) =>
    `${message}.recipient ->> 'topic' IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM topic_subscriptions s WHERE s.topic = ${message}.recipient ->> 'topic' AND s.user_id = ${d}.user_id)`;
  if (m) return `(${left(m)})`;
  return `EXISTS (SELECT 1 FROM messages t WHERE t.id = ${d}.message_id AND t.created_at = ${d}.created_at AND ${left('t')})`;
}
