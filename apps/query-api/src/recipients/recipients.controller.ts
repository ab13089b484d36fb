import type { Metadata } from '@grpc/grpc-js';
import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { UnaryCalls, type CallState } from '../grpc/unary-calls';
import { RecipientsService } from './recipients.service';

/** notify.v1.Recipients on the gRPC transport. Every method needs the `recipients` scope. */
@Controller()
export class RecipientsController {
  constructor(
    private readonly calls: UnaryCalls,
    private readonly recipients: RecipientsService,
  ) {}

  @GrpcMethod('Recipients', 'UpsertRecipient')
  upsertRecipient(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('UpsertRecipient', 'recipients', metadata, () => this.recipients.apply('upsert', request), call);
  }

  @GrpcMethod('Recipients', 'RegisterDevice')
  registerDevice(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('RegisterDevice', 'recipients', metadata, () => this.recipients.apply('device', request), call);
  }

  @GrpcMethod('Recipients', 'RemoveDevice')
  removeDevice(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('RemoveDevice', 'recipients', metadata, () => this.recipients.apply('device-removed', request), call);
  }

  @GrpcMethod('Recipients', 'Subscribe')
  subscribe(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('Subscribe', 'recipients', metadata, () => this.recipients.apply('subscribe', request), call);
  }

  @GrpcMethod('Recipients', 'Unsubscribe')
  unsubscribe(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('Unsubscribe', 'recipients', metadata, () => this.recipients.apply('unsubscribe', request), call);
  }

  @GrpcMethod('Recipients', 'GetRecipient')
  getRecipient(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('GetRecipient', 'recipients', metadata, () => this.recipients.getRecipient(request), call);
  }

  @GrpcMethod('Recipients', 'RemoveRecipient')
  removeRecipient(request: unknown, metadata: Metadata, call: CallState) {
    return this.calls.answer('RemoveRecipient', 'recipients', metadata, () => this.recipients.removeRecipient(request), call);
  }
}
