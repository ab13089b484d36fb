import { credentials as grpcCredentials, Metadata, type ChannelCredentials, type ChannelOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import type { RecipientUpdate } from '@notify/contracts';
import { NotifyQueryError } from './notify-query-error';
import { loadNotifyClients } from './query-proto';
import type { DeliveryPage, DeliveryStats, ListDeliveriesQuery, ListMessagesQuery, MessagePage, QueriedDelivery, QueriedMessage, RecipientRecord, StatsQuery } from './query-types';
import { fromWireDelivery, fromWireMessage, fromWireRecipient, fromWireStats, type WireDelivery, type WireMessage, type WireRecipient, type WireStats } from './query-wire';
import { toTimestamp, type WireTimestamp } from './wire';

export interface NotifyQueryClientOptions {
  /** host:port of the query API, e.g. `127.0.0.1:50051`. */
  address: string;
  /** Sent as `x-api-key` on every call. */
  apiKey: string;
  /** Plain TCP unless given (e.g. `credentials.createSsl()` from @grpc/grpc-js). */
  credentials?: ChannelCredentials;
  /** Each call's deadline; 10 s unless given. */
  timeoutMs?: number;
  /**
   * grpc-js channel options. An answer may be up to 16 MiB unless `grpc.max_receive_message_length`
   * is given (grpc-js takes 4 MiB by default): a page of 200 large messages can pass 4 MiB.
   */
  channelOptions?: ChannelOptions;
}

const MAX_RECEIVE_BYTES = 16 * 1024 * 1024;

/** `since` and `until` on the wire; an invalid Date is refused here (protobuf would send it as 1970). */
function timeRange(method: string, query: { since?: Date; until?: Date }): { since?: WireTimestamp; until?: WireTimestamp } {
  const wire = (field: 'since' | 'until'): WireTimestamp | undefined => {
    const at = query[field];
    if (at === undefined) return undefined;
    if (Number.isNaN(at.getTime())) throw new NotifyQueryError('INVALID_ARGUMENT', method, `${field}: not a valid date`);
    return toTimestamp(at);
  };
  return { since: wire('since'), until: wire('until') };
}

type UnaryMethod = (request: unknown, metadata: Metadata, options: { deadline: Date }, callback: (error: ServiceError | null, response: unknown) => void) => void;
type WithoutOp<T> = T extends unknown ? Omit<T, 'op'> : never;

/**
 * The typed client of the query API (contract section 5) for services written in TypeScript:
 * dates as Date, counts as numbers, structs as plain objects. A failed call rejects with a
 * NotifyQueryError naming its gRPC status.
 */
export class NotifyQueryClient {
  private readonly metadata = new Metadata();

  private constructor(
    private readonly messageQuery: Client,
    private readonly recipients: Client,
    private readonly timeoutMs: number,
    apiKey: string,
  ) {
    this.metadata.set('x-api-key', apiKey);
  }

  static connect(options: NotifyQueryClientOptions): NotifyQueryClient {
    const clients = loadNotifyClients();
    const channel = options.credentials ?? grpcCredentials.createInsecure();
    const messageQuery = new clients.MessageQuery(options.address, channel, { 'grpc.max_receive_message_length': MAX_RECEIVE_BYTES, ...options.channelOptions });
    // Both services share one connection to the server.
    const recipients = new clients.Recipients(options.address, channel, { channelOverride: messageQuery.getChannel() });
    return new NotifyQueryClient(messageQuery, recipients, options.timeoutMs ?? 10_000, options.apiKey);
  }

  async getMessage(id: string): Promise<QueriedMessage> {
    return fromWireMessage(await this.call<WireMessage>(this.messageQuery, 'GetMessage', { id }));
  }

  async getMessageByRequestId(requestId: string): Promise<QueriedMessage> {
    return fromWireMessage(await this.call<WireMessage>(this.messageQuery, 'GetMessageByRequestId', { requestId }));
  }

  async listMessages(query: ListMessagesQuery): Promise<MessagePage> {
    const page = await this.call<{ messages?: WireMessage[]; nextPageToken?: string }>(this.messageQuery, 'ListMessages', {
      ...query,
      ...timeRange('ListMessages', query),
    });
    return { messages: (page.messages ?? []).map(fromWireMessage), nextPageToken: page.nextPageToken || undefined };
  }

  /** Every message of the query, page after page. */
  async *allMessages(query: Omit<ListMessagesQuery, 'pageToken'>): AsyncGenerator<QueriedMessage> {
    let pageToken: string | undefined;
    do {
      const page = await this.listMessages({ ...query, pageToken });
      yield* page.messages;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  async listDeliveries(query: ListDeliveriesQuery): Promise<DeliveryPage> {
    const page = await this.call<{ deliveries?: WireDelivery[]; nextPageToken?: string }>(this.messageQuery, 'ListDeliveries', query);
    return { deliveries: (page.deliveries ?? []).map(fromWireDelivery), nextPageToken: page.nextPageToken || undefined };
  }

  /** Every delivery of a message from getMessage: those it came with, then the rest page after page. */
  async *allDeliveries(message: QueriedMessage, pageSize = 1_000): AsyncGenerator<QueriedDelivery> {
    yield* message.deliveries;
    let pageToken = message.nextDeliveriesPageToken;
    while (pageToken) {
      const page = await this.listDeliveries({ messageId: message.id, pageSize, pageToken });
      yield* page.deliveries;
      pageToken = page.nextPageToken;
    }
  }

  async getStats(query: StatsQuery = {}): Promise<DeliveryStats> {
    return fromWireStats(
      await this.call<WireStats>(this.messageQuery, 'GetStats', {
        ...query,
        ...timeRange('GetStats', query),
      }),
    );
  }

  async upsertRecipient(update: WithoutOp<Extract<RecipientUpdate, { op: 'upsert' }>>): Promise<RecipientRecord> {
    return this.recipientCall('UpsertRecipient', update);
  }

  async registerDevice(update: WithoutOp<Extract<RecipientUpdate, { op: 'device' }>>): Promise<RecipientRecord> {
    return this.recipientCall('RegisterDevice', update);
  }

  async removeDevice(update: WithoutOp<Extract<RecipientUpdate, { op: 'device-removed' }>>): Promise<RecipientRecord> {
    return this.recipientCall('RemoveDevice', update);
  }

  async subscribe(update: WithoutOp<Extract<RecipientUpdate, { op: 'subscribe' }>>): Promise<RecipientRecord> {
    return this.recipientCall('Subscribe', update);
  }

  async unsubscribe(update: WithoutOp<Extract<RecipientUpdate, { op: 'unsubscribe' }>>): Promise<RecipientRecord> {
    return this.recipientCall('Unsubscribe', update);
  }

  async getRecipient(userId: string): Promise<RecipientRecord> {
    return this.recipientCall('GetRecipient', { userId });
  }

  /** Forgets the user's contacts, devices and topics; resolves also for a user the platform does not know. */
  async removeRecipient(userId: string): Promise<void> {
    await this.call(this.recipients, 'RemoveRecipient', { userId });
  }

  close(): void {
    this.recipients.close();
    this.messageQuery.close();
  }

  private async recipientCall(method: string, request: unknown): Promise<RecipientRecord> {
    return fromWireRecipient(await this.call<WireRecipient>(this.recipients, method, request));
  }

  private call<T>(client: Client, method: string, request: unknown): Promise<T> {
    const invoke = (client as unknown as Record<string, UnaryMethod>)[method]!.bind(client);
    return new Promise<T>((resolve, reject) =>
      invoke(request, this.metadata, { deadline: new Date(Date.now() + this.timeoutMs) }, (error, response) =>
        error ? reject(NotifyQueryError.from(method, error)) : resolve(response as T),
      ),
    );
  }
}
