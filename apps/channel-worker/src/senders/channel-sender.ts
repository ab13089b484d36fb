import type { DeliveryJob } from '@notify/contracts';
import type { WorkerChannel } from '@notify/config';
import type { SendAttempt } from './send-attempt';

/** A batch's sends, ready to go once the deliveries are claimed. */
export interface SendPlan {
  /** Sends the claimed jobs under the channel's concurrency limit; never throws, every job gets an attempt. */
  send(claimed: DeliveryJob[]): Promise<SendAttempt[]>;
}

/** One channel's way of sending: pick the provider, address the endpoint, call it. */
export interface ChannelSender {
  readonly channel: WorkerChannel;
  /**
   * Reads what the sends need (push device tokens) before anything is claimed, so that a failed
   * read leaves the jobs queued for the batch's retry instead of claimed and never sent.
   */
  plan(jobs: DeliveryJob[]): Promise<SendPlan>;
  /** The longest text its provider takes in one send, when it says (a digest is cut into sends within it). */
  readonly textLimit?: number;
}
