import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { UnaryCalls, type CallState } from '../grpc/unary-calls';
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
    return this.calls.answer('GetMessage', 'query', metadata, () => this.queries.getMessage(request), call);
  }

  @GrpcMethod('MessageQuery', 'GetMessageByRequestId')
  getMessageByRequestId(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('GetMessageByRequestId', 'query', metadata, () => this.queries.getMessageByRequestId(request), call);
  }

  @GrpcMethod('MessageQuery', 'ListMessages')
  listMessages(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('ListMessages', 'query', metadata, () => this.queries.listMessages(request), call);
  }

  @GrpcMethod('MessageQuery', 'ListDeliveries')
  listDeliveries(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('ListDeliveries', 'query', metadata, () => this.queries.listDeliveries(request), call);
  }

  @GrpcMethod('MessageQuery', 'GetStats')
  getStats(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('GetStats', 'query', metadata, () => this.queries.getStats(request), call);
  }
}
