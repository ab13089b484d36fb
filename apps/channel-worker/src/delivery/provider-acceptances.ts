import type { SendAttempt } from '../senders/send-attempt';

/**
 * Per provider, when it last accepted a send (before its first, since `silentSince`): how long
 * a provider has gone without taking anything is what tells a refusal of the whole account (a
 * revoked key: nothing goes through) from a configuration error about one recipient or message
 * (Twilio's 21408, SMS not enabled for that number's region: the others go through meanwhile).
 */
export class ProviderAcceptances {
  private readonly lastAccepted = new Map<string, number>();

  constructor(private readonly silentSince: number) {}

  /** Takes in a batch's answers at `now`; returns how long each provider has accepted nothing. */
  observe(attempts: readonly SendAttempt[], now: number): (provider: string) => number {
    for (const { result } of attempts) if (result.kind === 'accepted') this.lastAccepted.set(result.provider, now);
    return (provider) => Math.max(0, now - (this.lastAccepted.get(provider) ?? this.silentSince));
  }
}
