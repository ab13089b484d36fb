import { timeOfId, type DeliveryStatsStore, type MessageQueryStore, type StoredMessage } from '@notify/persistence';
import { parseRequest } from '../grpc/request-fields';
import { RpcError } from '../grpc/rpc-error';
import { toWireDelivery, toWireMessage, toWireStats } from './message.wire';
import {
  GetMessageByRequestIdRequestSchema,
  GetMessageRequestSchema,
  GetStatsRequestSchema,
  ListDeliveriesRequestSchema,
  ListMessagesRequestSchema,
} from './message-query.requests';
import type { PageTokens } from './page-tokens';

/** notify.v1.MessageQuery: messages, their deliveries and the outcome counters, from decoded requests. */
export class MessageQueryService {
  constructor(
    private readonly messages: MessageQueryStore,
    private readonly stats: DeliveryStatsStore,
    private readonly pageTokens: PageTokens,
  ) {}

  async getMessage(request: unknown) {
    const { id } = parseRequest(GetMessageRequestSchema, request);
    // Only the platform's ids carry the creation time that names the partition; any other id was never issued.
    const createdAt = timeOfId(id);
    const message = createdAt && (await this.messages.get(id.toLowerCase(), createdAt));
    if (!message) throw RpcError.notFound(`message ${id}`);
    return this.withDeliveriesToken(message);
  }

  async getMessageByRequestId(request: unknown) {
    const { requestId } = parseRequest(GetMessageByRequestIdRequestSchema, request);
    const message = await this.messages.getByRequestId(requestId);
    if (!message) throw RpcError.notFound(`request ${requestId}`);
    return this.withDeliveriesToken(message);
  }

  async listMessages(request: unknown) {
    const { pageSize, pageToken, ...filter } = parseRequest(ListMessagesRequestSchema, request);
    const after = pageToken ? this.pageTokens.read(pageToken, filter) : undefined;
    const page = await this.messages.listForUser(filter, after, pageSize);
    return {
      messages: page.messages.map(toWireMessage),
      nextPageToken: page.next ? this.pageTokens.issue(filter, page.next) : undefined,
    };
  }

  async listDeliveries(request: unknown) {
    const { messageId, pageSize, pageToken } = parseRequest(ListDeliveriesRequestSchema, request);
    const after = pageToken ? this.pageTokens.readDeliveries(pageToken, messageId) : undefined;
    const createdAt = timeOfId(messageId);
    const page = createdAt && (await this.messages.listDeliveries(messageId.toLowerCase(), createdAt, after, pageSize));
    if (!page) throw RpcError.notFound(`message ${messageId}`);
    return {
      deliveries: page.deliveries.map(toWireDelivery),
      nextPageToken: page.next ? this.pageTokens.issueDeliveries(messageId, page.next) : undefined,
    };
  }

  async getStats(request: unknown) {
    return toWireStats(await this.stats.totals(parseRequest(GetStatsRequestSchema, request)));
  }

  /** GetMessage's answer: a message with more deliveries than it was read with carries the token for the rest. */
  private withDeliveriesToken(message: StoredMessage) {
    const wire = toWireMessage(message);
    return message.moreDeliveriesAfter ? { ...wire, nextDeliveriesPageToken: this.pageTokens.issueDeliveries(message.id, message.moreDeliveriesAfter) } : wire;
  }
}
