import { ProviderError, ProviderErrorCode } from '@notify/channels';
import type { SendAttempt } from '../senders/send-attempt';

/**
 * Keeps one configuration mistake from deactivating every device. A wrong APNs environment
 * (BadDeviceToken), a wrong bundle id (DeviceTokenNotForTopic), another Firebase project's key
 * (SENDER_ID_MISMATCH) or a wrong HMS app id (80300007) make the vendor call every token dead at
 * once. A provider that has given `threshold` such refusals in a row since it last accepted a send (not
 * counting retries of deliveries whose refusals this watch converted before, `seenBefore`),
 * and accepted none in the batch, is taken to be misconfigured: its token refusals become
 * configuration errors (an alert, an hour's wait, the tokens kept) until it accepts a send again.
 * (Counted over a window of its last 50 answers instead, a worker that had been sending for a while
 * needed 50 refusals in a row: up to 49 valid tokens were deactivated before it suspected anything.)
 */
export class TokenRefusalWatch {
  /** Per provider, its token refusals since it last accepted a send. */
  private readonly refusalsInARow = new Map<string, number>();
  /** Providers this watch has suspected. */
  private readonly suspectedOnce = new Set<string>();
  /** Of those, the ones that have accepted a send since they were last suspected. */
  private readonly acceptedSinceSuspected = new Set<string>();
  /**
   * Provider and delivery id of the refusals this watch turned into configuration errors, the
   * oldest first: at most `rememberedLimit`, the oldest forgotten first.
   */
  private readonly converted = new Set<string>();

  constructor(
    private readonly threshold = 10,
    private readonly rememberedLimit = 5000,
  ) {}

  /** The batch's attempts, with the token refusals of a provider that looks misconfigured turned into configuration errors. */
  review(attempts: SendAttempt[]): { attempts: SendAttempt[]; suspected: string[] } {
    const acceptedNow = new Set<string>();
    const refusedNow = new Set<string>();
    for (const attempt of attempts) {
      const answer = tokenAnswerOf(attempt);
      if (answer === undefined) continue;
      (answer.refused ? refusedNow : acceptedNow).add(answer.provider);
      if (!answer.refused) {
        this.refusalsInARow.set(answer.provider, 0);
        if (this.suspectedOnce.has(answer.provider)) this.acceptedSinceSuspected.add(answer.provider);
      } else if (!this.seenBefore(attempt, answer.provider)) {
        this.refusalsInARow.set(answer.provider, (this.refusalsInARow.get(answer.provider) ?? 0) + 1);
      }
    }
    // Only a provider that refused tokens in this batch: one that took no part in it has nothing to
    // convert, and reporting it again raised the configuration alert on every other provider's batch.
    const suspected = [...this.refusalsInARow]
      .filter(([provider, refusals]) => refusals >= this.threshold && refusedNow.has(provider) && !acceptedNow.has(provider))
      .map(([provider]) => provider);
    for (const provider of suspected) {
      this.suspectedOnce.add(provider);
      this.acceptedSinceSuspected.delete(provider);
    }
    if (suspected.length === 0) return { attempts, suspected };
    return {
      suspected,
      attempts: attempts.map((attempt) => {
        const { result } = attempt;
        if (result.kind !== 'refused' || !isFleetWide(result.error) || !suspected.includes(result.provider)) return attempt;
        this.remember(convertedKey(result.provider, attempt));
        const error = new ProviderError({
          provider: result.error.provider,
          code: ProviderErrorCode.Misconfigured,
          vendorCode: result.error.vendorCode,
          status: result.error.status,
          message: `every recent answer refused the device token (${result.error.vendorCode ?? result.error.code}): taken for a configuration problem, tokens kept`,
        });
        return { ...attempt, result: { ...result, error } };
      }),
    };
  }

  /**
   * Whether a refusal is of a retried send that this watch took for a configuration problem before,
   * the provider having accepted sends since: stale tokens (HMS and Mi Push give the same answer for
   * one), not a sign of a mistake. Counted again, ten of them came back together every hour, were
   * taken for a configuration problem each time and never deactivated. Any other retried refusal
   * counts: a worker that never saw the first attempts (restarted, or another replica) must still
   * suspect a provider that refuses every token.
   */
  private seenBefore(attempt: SendAttempt, provider: string): boolean {
    return (
      attempt.job.attempt !== undefined &&
      attempt.job.attempt > 1 &&
      this.acceptedSinceSuspected.has(provider) &&
      this.converted.has(convertedKey(provider, attempt))
    );
  }

  private remember(key: string): void {
    // Deleted first so that a delivery converted again counts as the newest.
    this.converted.delete(key);
    this.converted.add(key);
    if (this.converted.size <= this.rememberedLimit) return;
    const oldest = this.converted.values().next();
    if (oldest.done !== true) this.converted.delete(oldest.value);
  }
}

function convertedKey(provider: string, attempt: SendAttempt): string {
  return `${provider}\u0000${attempt.job.deliveryId}`;
}

/**
 * The vendor answers that a configuration mistake gives for every token: "not a valid token here".
 * A token that is gone (APNs 410 Unregistered, FCM UNREGISTERED) says nothing about the configuration.
 */
const FLEET_WIDE = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic', 'SENDER_ID_MISMATCH', '80300007', '20301']);

function tokenAnswerOf(attempt: SendAttempt): { provider: string; refused: boolean } | undefined {
  const { result } = attempt;
  if (result.kind === 'accepted') return { provider: result.provider, refused: false };
  if (result.kind === 'refused' && isFleetWide(result.error)) return { provider: result.provider, refused: true };
  return undefined;
}

/**
 * Only the vendor's own answers (they carry its HTTP status) say anything about the configuration:
 * a token the adapter refused before any request (an APNs token that is not hex) is bad whatever the
 * configuration, and ten of them in a row kept every bad token and raised a false alert.
 */
function isFleetWide(error: ProviderError): boolean {
  return error.deactivateToken && error.status !== undefined && error.vendorCode !== undefined && FLEET_WIDE.has(error.vendorCode);
}
