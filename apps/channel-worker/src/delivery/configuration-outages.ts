import type { SendAttempt } from '../senders/send-attempt';

/**
 * Per provider, since when its calls have been refused for a configuration problem (a revoked key, a
 * wrong sender): from its first configuration error after it last accepted a send. Only an operator
 * ends such an outage, so a delivery it holds up keeps its attempt (`decide`) until the outage has
 * lasted a day: counted from the start, a key fixed after four hours found every message of the
 * outage `dead`.
 */
export class ConfigurationOutages {
  private readonly since = new Map<string, number>();

  /** Takes in a batch's answers at `now`; returns how long each provider's outage has lasted (0: none). */
  observe(attempts: readonly SendAttempt[], now: number): (provider: string) => number {
    const accepted = new Set(attempts.flatMap((a) => (a.result.kind === 'accepted' ? [a.result.provider] : [])));
    for (const provider of accepted) this.since.delete(provider);
    for (const { result } of attempts) {
      if (result.kind === 'refused' && result.error.kind === 'configuration' && !accepted.has(result.provider) && !this.since.has(result.provider)) {
        this.since.set(result.provider, now);
      }
    }
    return (provider) => {
      const since = this.since.get(provider);
      return since === undefined ? 0 : Math.max(0, now - since);
    };
  }
}
