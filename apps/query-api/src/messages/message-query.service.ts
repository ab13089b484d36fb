import { timeOfId, type DeliveryStatsStore, type MessageQueryStore, type StoredMessage } from '@notify/persistence';
import { RpcError } from '../grpc/rpc-error';
import { MAX_PAGE_BYTES, toWireDelivery, toWireMessage, toWireStats, wireBytesBound } from './message.wire';
import type { GetMessageByRequestIdRequest, GetMessageRequest, GetStatsRequest, ListDeliveriesRequest, ListMessagesRequest } from './message-query.requests';
import type { PageTokens } from './page-tokens';

/** notify.v1.MessageQuery: messages, their deliveries and the outcome counters, from requests read by their schemas (`message-query.requests`). */
export class MessageQueryService {
  constructor(
    private readonly messages: MessageQueryStore,
    private readonly stats: DeliveryStatsStore,
    private readonly pageTokens: PageTokens,
  ) {}

  async getMessage({ id }: GetMessageRequest) {
    // Only the platform's ids carry the creation time that names the partition; any other id was never issued.
    const createdAt = timeOfId(id);
    const message = createdAt && (await this.messages.get(id.toLowerCase(), createdAt));
    if (!message) throw RpcError.notFound(`message ${id}`);
    return this.withDeliveriesToken(message);
  }

  async getMessageByRequestId({ requestId }: GetMessageByRequestIdRequest) {
    const message = await this.messages.getByRequestId(requestId);
    if (!message) throw RpcError.notFound(`request ${requestId}`);
    return this.withDeliveriesToken(message);
  }

  async listMessages({ pageSize, pageToken, ...filter }: ListMessagesRequest) {
    const after = pageToken ? this.pageTokens.read(pageToken, filter) : undefined;
    const page = await this.messages.listForUser(filter, after, pageSize);
    // Large messages end a page early, after at least one; the token goes on from the last one given.
    const fitting = countFitting(page.messages, MAX_PAGE_BYTES);
    const next = fitting < page.messages.length ? page.positions[fitting - 1] : page.next;
    return {
      messages: page.messages.slice(0, fitting).map(toWireMessage),
      nextPageToken: next ? this.pageTokens.issue(filter, next) : undefined,
    };
  }

  async listDeliveries({ messageId, pageSize, pageToken }: ListDeliveriesRequest) {
    const after = pageToken ? this.pageTokens.readDeliveries(pageToken, messageId) : undefined;
    const createdAt = timeOfId(messageId);
    const page = createdAt && (await this.messages.listDeliveries(messageId.toLowerCase(), createdAt, after, pageSize));
    if (!page) throw RpcError.notFound(`message ${messageId}`);
    return {
      deliveries: page.deliveries.map(toWireDelivery),
      nextPageToken: page.next ? this.pageTokens.issueDeliveries(messageId, page.next) : undefined,
    };
  }

  async getStats(request: GetStatsRequest) {
    return toWireStats(await this.stats.totals(request));
  }

  /** GetMessage's answer: a message with more deliveries than it was read with carries the token for the rest. */
  private withDeliveriesToken(message: StoredMessage) {
    const wire = toWireMessage(message);
    return message.moreDeliveriesAfter ? { ...wire, nextDeliveriesPageToken: this.pageTokens.issueDeliveries(message.id, message.moreDeliveriesAfter) } : wire;
  }
}

/** How many of the messages, from the first, fit in `maxBytes` (`wireBytesBound`); at least one. */
function countFitting(messages: StoredMessage[], maxBytes: number): number {
  let bytes = 0;
  for (let i = 0; i < messages.length; i++) {
    bytes += wireBytesBound(messages[i]!);
    if (bytes > maxBytes) return Math.max(i, 1);
  }
  return messages.length;
}
