import type { RecipientUpdate } from '@notify/contracts';
import type { RecipientDetailsStore, RecipientStore } from '@notify/persistence';
import { parseRequest } from '../grpc/request-fields';
import { RpcError } from '../grpc/rpc-error';
import { GetRecipientRequestSchema, toRecipientUpdate } from './recipient-requests';
import { toWireRecipient } from './recipient.wire';

/**
 * notify.v1.Recipients: the operations of the notify.recipients topic, applied by the same store the
 * message center uses for that topic, then the recipient as it now stands.
 */
export class RecipientsService {
  constructor(
    private readonly updates: RecipientStore,
    private readonly details: RecipientDetailsStore,
  ) {}

  /** Applies one operation of notify.recipients (`op`) given as a gRPC request. */
  async apply(op: RecipientUpdate['op'], request: unknown) {
    const update = toRecipientUpdate(op, request);
    await this.updates.apply([update]);
    return toWireRecipient(update.userId, await this.details.find(update.userId));
  }

  /** Applies `user-removed`; answers `google.protobuf.Empty`, as nothing of the recipient is left. */
  async removeRecipient(request: unknown) {
    await this.updates.apply([toRecipientUpdate('user-removed', request)]);
    return {};
  }

  async getRecipient(request: unknown) {
    const { userId } = parseRequest(GetRecipientRequestSchema, request);
    const details = await this.details.find(userId);
    if (!details) throw RpcError.notFound(`recipient ${userId}`);
    return toWireRecipient(userId, details);
  }
}
