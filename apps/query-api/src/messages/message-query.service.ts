import { timeOfId, type DeliveryStatsStore, type MessageQueryStore } from '@notify/persistence';
import { parseRequest } from '../grpc/request-fields';
import { RpcError } from '../grpc/rpc-error';
import { toWireMessage, toWireStats } from './message.wire';
import { GetMessageByRequestIdRequestSchema, GetMessageRequestSchema, GetStatsRequestSchema, ListMessagesRequestSchema } from './message-query.requests';
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
    return toWireMessage(message);
  }

  async getMessageByRequestId(request: unknown) {
    const { requestId } = parseRequest(GetMessageByRequestIdRequestSchema, request);
    const message = await this.messages.getByRequestId(requestId);
    if (!message) throw RpcError.notFound(`request ${requestId}`);
    return toWireMessage(message);
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

  async getStats(request: unknown) {
    return toWireStats(await this.stats.totals(parseRequest(GetStatsRequestSchema, request)));
  }
}
