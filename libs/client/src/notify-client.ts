import { Kafka, Partitioners, type KafkaConfig, type Producer } from 'kafkajs';
import {
  MAX_REQUEST_BYTES,
  NotificationRequestSchema,
  RecipientUpdateSchema,
  Topics,
  type NotificationRequest,
  type RecipientUpdate,
} from '@notify/contracts';
import { sendInChunks } from '@notify/kafka';
import { InvalidNotificationRequest } from './invalid-request';

export type NotifyClientOptions = Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> & { clientId?: string };

/**
 * The SDK for business services: validates a request the way the platform will, then produces it
 * to notify.requests keyed by the receiver's user id (or the request id), so one user's requests stay in order.
 */
export class NotifyClient {
  private constructor(private readonly producer: Producer) {}

  static async connect(options: NotifyClientOptions): Promise<NotifyClient> {
    const kafka = new Kafka({ clientId: options.clientId ?? 'notify-client', brokers: options.brokers, ssl: options.ssl, sasl: options.sasl });
    // One produce request in flight per broker: a retried request is not overtaken by the next, so a
    // user's recipient updates sent without waiting for each other still apply in the order sent.
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false, maxInFlightRequests: 1 });
    await producer.connect();
    return new NotifyClient(producer);
  }

  async send(request: NotificationRequest): Promise<void> {
    await this.sendMany([request]);
  }

  /**
   * Validates all, then produces them in calls the broker takes (a call puts each partition's
   * requests in one record batch, refused whole over the broker's 1 MiB: 20 requests of 62 KB for one
   * user were refused every time). Resolves once every request is handed to Kafka; a call that throws
   * may have handed some over, and sending the same requests again stores none twice (their ids).
   */
  async sendMany(requests: NotificationRequest[]): Promise<void> {
    const messages = requests.map((request) => {
      const parsed = NotificationRequestSchema.safeParse(request);
      if (!parsed.success) throw InvalidNotificationRequest.fromZod(parsed.error);
      const value = JSON.stringify(request);
      if (Buffer.byteLength(value) > MAX_REQUEST_BYTES) {
        throw new InvalidNotificationRequest([`(root): request is larger than ${MAX_REQUEST_BYTES} bytes`]);
      }
      return { key: 'userId' in request.to ? request.to.userId : request.id, value };
    });
    await sendInChunks(this.producer, [{ topic: Topics.requests, messages }]);
  }

  /** Publishes a recipient change (contract section 2), keyed by user id. */
  async updateRecipient(update: RecipientUpdate): Promise<void> {
    const parsed = RecipientUpdateSchema.safeParse(update);
    if (!parsed.success) throw InvalidNotificationRequest.fromZod(parsed.error);
    await this.producer.send({ topic: Topics.recipients, messages: [{ key: update.userId, value: JSON.stringify(update) }] });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
