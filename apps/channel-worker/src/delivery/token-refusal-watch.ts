import { ProviderError, ProviderErrorCode } from '@notify/channels';
import type { SendAttempt } from '../senders/send-attempt';

/**
 * Keeps one configuration mistake from deactivating every device. A wrong APNs environment
 * (BadDeviceToken), a wrong bundle id (DeviceTokenNotForTopic), another Firebase project's key
 * (SENDER_ID_MISMATCH) or a wrong HMS app id (80300007) make the vendor call every token dead at
 * once. A provider whose last `window` answers include at least `threshold` such refusals and not one
 * accepted send is taken to be misconfigured: its token refusals become configuration errors
 * (an alert, an hour's wait, the tokens kept) until it accepts a send again.
 */
export class TokenRefusalWatch {
  /** Per provider, its latest answers that say something about its tokens: true for a refusal. */
  private readonly answers = new Map<string, boolean[]>();

  constructor(
    private readonly window = 50,
    private readonly threshold = 10,
  ) {}

  /** The batch's attempts, with the token refusals of a provider that looks misconfigured turned into configuration errors. */
  review(attempts: SendAttempt[]): { attempts: SendAttempt[]; suspected: string[] } {
    for (const attempt of attempts) {
      const answer = tokenAnswerOf(attempt);
      if (answer === undefined) continue;
      const recent = this.answers.get(answer.provider) ?? [];
      recent.push(answer.refused);
      if (recent.length > this.window) recent.shift();
      this.answers.set(answer.provider, recent);
    }
    const suspected = [...this.answers].filter(([, recent]) => !recent.includes(false) && recent.length >= this.threshold).map(([provider]) => provider);
    if (suspected.length === 0) return { attempts, suspected };
    return {
      suspected,
      attempts: attempts.map((attempt) => {
        const { result } = attempt;
        if (result.kind !== 'refused' || !isFleetWide(result.error) || !suspected.includes(result.provider)) return attempt;
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
}

/**
 * The vendor answers that a configuration mistake gives for every token: "not a valid token here".
 * A token that is gone (APNs 410 Unregistered, FCM UNREGISTERED) says nothing about the configuration.
 */
const FLEET_WIDE = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic', 'SENDER_ID_MISMATCH', '80300007']);

function tokenAnswerOf(attempt: SendAttempt): { provider: string; refused: boolean } | undefined {
  const { result } = attempt;
  if (result.kind === 'accepted') return { provider: result.provider, refused: false };
  if (result.kind === 'refused' && isFleetWide(result.error)) return { provider: result.provider, refused: true };
  return undefined;
}

function isFleetWide(error: ProviderError): boolean {
  return error.deactivateToken && error.vendorCode !== undefined && FLEET_WIDE.has(error.vendorCode);
}
