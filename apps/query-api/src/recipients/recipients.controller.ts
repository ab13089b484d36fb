import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { UnaryCalls, type CallState } from '../grpc/unary-calls';
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
    return this.calls.answer('UpsertRecipient', 'recipients', metadata, (caller) => this.recipients.apply('upsert', request, caller), call);
  }

  @GrpcMethod('Recipients', 'RegisterDevice')
  registerDevice(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('RegisterDevice', 'recipients', metadata, (caller) => this.recipients.apply('device', request, caller), call);
  }

  @GrpcMethod('Recipients', 'RemoveDevice')
  removeDevice(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('RemoveDevice', 'recipients', metadata, (caller) => this.recipients.apply('device-removed', request, caller), call);
  }

  @GrpcMethod('Recipients', 'Subscribe')
  subscribe(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('Subscribe', 'recipients', metadata, (caller) => this.recipients.apply('subscribe', request, caller), call);
  }

  @GrpcMethod('Recipients', 'Unsubscribe')
  unsubscribe(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('Unsubscribe', 'recipients', metadata, (caller) => this.recipients.apply('unsubscribe', request, caller), call);
  }

  @GrpcMethod('Recipients', 'GetRecipient')
  getRecipient(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('GetRecipient', 'recipients', metadata, () => this.recipients.getRecipient(request), call);
  }

  @GrpcMethod('Recipients', 'RemoveRecipient')
  removeRecipient(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('RemoveRecipient', 'recipients', metadata, (caller) => this.recipients.removeRecipient(request, caller), call);
  }
}
