import type { ServiceDefinition } from '@grpc/grpc-js';
import type { RecipientUpdate } from '@notify/contracts';
import type { RecipientDetailsStore, RecipientStore } from '@notify/persistence';
import type { GrpcService } from '../grpc/grpc-service';
import { parseRequest } from '../grpc/request-fields';
import { RpcError } from '../grpc/rpc-error';
import type { UnaryCalls } from '../grpc/unary-calls';
import { GetRecipientRequestSchema, toRecipientUpdate } from './recipient-requests';
import { toWireRecipient } from './recipient.wire';

/**
 * notify.v1.Recipients: the operations of the notify.recipients topic, applied by the same store the
 * message center uses for that topic, then the recipient as it now stands. Scope `recipients`.
 */
export class RecipientsService implements GrpcService {
  constructor(
    readonly definition: ServiceDefinition,
    private readonly calls: UnaryCalls,
    private readonly updates: RecipientStore,
    private readonly details: RecipientDetailsStore,
  ) {}

  get implementation() {
    return {
      UpsertRecipient: this.write('UpsertRecipient', 'upsert'),
      RegisterDevice: this.write('RegisterDevice', 'device'),
      RemoveDevice: this.write('RemoveDevice', 'device-removed'),
      Subscribe: this.write('Subscribe', 'subscribe'),
      Unsubscribe: this.write('Unsubscribe', 'unsubscribe'),
      GetRecipient: this.calls.define('GetRecipient', 'recipients', (request) => this.getRecipient(request)),
    };
  }

  private write(method: string, op: RecipientUpdate['op']) {
    return this.calls.define(method, 'recipients', async (request) => {
      const update = toRecipientUpdate(op, request);
      await this.updates.apply([update]);
      return toWireRecipient(update.userId, await this.details.find(update.userId));
    });
  }

  private async getRecipient(request: unknown) {
    const { userId } = parseRequest(GetRecipientRequestSchema, request);
    const details = await this.details.find(userId);
    if (!details) throw RpcError.notFound(`recipient ${userId}`);
    return toWireRecipient(userId, details);
  }
}
