import type { RecipientUpdate } from '@notify/contracts';
import type { AppLogger } from '@notify/observability';
import type { RecipientDetailsStore, RecipientStore } from '@notify/persistence';
import type { Caller } from '../auth/caller';
import { RpcError } from '../grpc/rpc-error';
import type { GetRecipientRequest } from './recipient-requests';
import { toWireRecipient } from './recipient.wire';

/** The notify.v1.Recipients method of each operation. */
const METHODS: Record<RecipientUpdate['op'], string> = {
  upsert: 'UpsertRecipient',
  device: 'RegisterDevice',
  'device-removed': 'RemoveDevice',
  subscribe: 'Subscribe',
  unsubscribe: 'Unsubscribe',
  'user-removed': 'RemoveRecipient',
};

/**
 * What a write touched, in terms that are no personal data: the names of the contact fields set or
 * cleared (never their values), a device's id and provider (never its push token), a topic.
 */
function touched(update: RecipientUpdate): Record<string, unknown> {
  switch (update.op) {
    case 'upsert':
      return { fields: (['phone', 'email', 'locale', 'timezone'] as const).filter((field) => update[field] !== undefined), cleared: update.clear ?? [] };
    case 'device':
      return { deviceId: update.deviceId, provider: update.provider };
    case 'device-removed':
      return { deviceId: update.deviceId };
    case 'subscribe':
    case 'unsubscribe':
      return { topic: update.topic };
    case 'user-removed':
      return {};
  }
}

/**
 * notify.v1.Recipients: the operations of the notify.recipients topic, applied by the same store the
 * message center uses for that topic, then the recipient as it now stands.
 *
 * Each write is logged at info once applied (`recipients write: <method>`, with the user, the API
 * key's name and what it touched): these writes go to the database alone, and after a restore to an
 * earlier time that line is the record of what to do again.
 */
export class RecipientsService {
  constructor(
    private readonly updates: RecipientStore,
    private readonly details: RecipientDetailsStore,
    private readonly logger: AppLogger,
  ) {}

  /** Applies one operation of notify.recipients, read from a gRPC request (`toRecipientUpdate`). */
  async apply(update: RecipientUpdate, caller: Caller) {
    await this.write(update, caller);
    return toWireRecipient(update.userId, await this.details.find(update.userId));
  }

  /** Applies `user-removed`; answers `google.protobuf.Empty`, as nothing of the recipient is left. */
  async removeRecipient(update: RecipientUpdate, caller: Caller) {
    await this.write(update, caller);
    return {};
  }

  async getRecipient({ userId }: GetRecipientRequest) {
    const details = await this.details.find(userId);
    if (!details) throw RpcError.notFound(`recipient ${userId}`);
    return toWireRecipient(userId, details);
  }

  /** Every write goes through here: applied, then logged (only once it succeeded). */
  private async write(update: RecipientUpdate, caller: Caller): Promise<void> {
    await this.updates.apply([update]);
    const method = METHODS[update.op];
    this.logger.info({ audit: 'recipients', method, userId: update.userId, keyName: caller.keyName, ...touched(update) }, `recipients write: ${method}`);
  }
}
