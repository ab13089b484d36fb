import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { parseRequest } from '../grpc/request-fields';
import { UnaryCalls, type CallState } from '../grpc/unary-calls';
import {
  GetMessageByRequestIdRequestSchema,
  GetMessageRequestSchema,
  GetStatsRequestSchema,
  ListDeliveriesRequestSchema,
  ListMessagesRequestSchema,
} from './message-query.requests';
import { MessageQueryService } from './message-query.service';

/** notify.v1.MessageQuery on the gRPC transport. Every method needs the `query` scope. */
@Controller()
export class MessageQueryController {
  constructor(
    private readonly calls: UnaryCalls,
    private readonly queries: MessageQueryService,
  ) {}

  @GrpcMethod('MessageQuery', 'GetMessage')
  getMessage(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('GetMessage', 'query', metadata, () => parseRequest(GetMessageRequestSchema, request), (read) => this.queries.getMessage(read), call);
  }

  @GrpcMethod('MessageQuery', 'GetMessageByRequestId')
  getMessageByRequestId(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('GetMessageByRequestId', 'query', metadata, () => parseRequest(GetMessageByRequestIdRequestSchema, request), (read) => this.queries.getMessageByRequestId(read), call);
  }

  @GrpcMethod('MessageQuery', 'ListMessages')
  listMessages(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('ListMessages', 'query', metadata, () => parseRequest(ListMessagesRequestSchema, request), (read) => this.queries.listMessages(read), call);
  }

  @GrpcMethod('MessageQuery', 'ListDeliveries')
  listDeliveries(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('ListDeliveries', 'query', metadata, () => parseRequest(ListDeliveriesRequestSchema, request), (read) => this.queries.listDeliveries(read), call);
  }

  @GrpcMethod('MessageQuery', 'GetStats')
  getStats(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('GetStats', 'query', metadata, () => parseRequest(GetStatsRequestSchema, request), (read) => this.queries.getStats(read), call);
  }
}
