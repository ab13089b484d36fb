import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { parseRequest } from '../grpc/request-fields';
import { UnaryCalls, type CallState } from '../grpc/unary-calls';
import { GetRecipientRequestSchema, toRecipientUpdate } from './recipient-requests';
import { RecipientsService } from './recipients.service';

/**
 * notify.v1.Recipients on the gRPC transport. Every method needs the `recipients` scope; the writes
 * are given the caller (the key's name), which the service logs with each one.
 */
@Controller()
export class RecipientsController {
  constructor(
    private readonly calls: UnaryCalls,
    private readonly recipients: RecipientsService,
  ) {}

  @GrpcMethod('Recipients', 'UpsertRecipient')
  upsertRecipient(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('UpsertRecipient', 'recipients', metadata, () => toRecipientUpdate('upsert', request), (update, caller) => this.recipients.apply(update, caller), call);
  }

  @GrpcMethod('Recipients', 'RegisterDevice')
  registerDevice(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('RegisterDevice', 'recipients', metadata, () => toRecipientUpdate('device', request), (update, caller) => this.recipients.apply(update, caller), call);
  }

  @GrpcMethod('Recipients', 'RemoveDevice')
  removeDevice(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('RemoveDevice', 'recipients', metadata, () => toRecipientUpdate('device-removed', request), (update, caller) => this.recipients.apply(update, caller), call);
  }

  @GrpcMethod('Recipients', 'Subscribe')
  subscribe(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('Subscribe', 'recipients', metadata, () => toRecipientUpdate('subscribe', request), (update, caller) => this.recipients.apply(update, caller), call);
  }

  @GrpcMethod('Recipients', 'Unsubscribe')
  unsubscribe(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('Unsubscribe', 'recipients', metadata, () => toRecipientUpdate('unsubscribe', request), (update, caller) => this.recipients.apply(update, caller), call);
  }

  @GrpcMethod('Recipients', 'GetRecipient')
  getRecipient(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('GetRecipient', 'recipients', metadata, () => parseRequest(GetRecipientRequestSchema, request), (read) => this.recipients.getRecipient(read), call);
  }

  @GrpcMethod('Recipients', 'RemoveRecipient')
  removeRecipient(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('RemoveRecipient', 'recipients', metadata, () => toRecipientUpdate('user-removed', request), (update, caller) => this.recipients.removeRecipient(update, caller), call);
  }
}
