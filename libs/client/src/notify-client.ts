import { Kafka, Partitioners, type KafkaConfig, type Producer } from 'kafkajs';
import { MAX_REQUEST_BYTES, readRecipientUpdateText, readRequestText, Topics, type JsonReading, type NotificationRequest, type RecipientUpdate } from '@notify/contracts';
import { sendInChunks } from '@notify/kafka';
import { InvalidNotificationRequest } from './invalid-request';
import { KeyedTurns } from './keyed-turns';

export type NotifyClientOptions = Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> & { clientId?: string };

/**
 * The SDK for business services: validates a request the way the platform will (the message center's
 * own reading of the JSON it is about to produce), then produces it to notify.requests keyed by the
 * receiver's user id (or the request id), so one user's requests stay in order: a call's requests
 * are produced once the calls before it for any of the same keys have been taken or have failed, so
 * calls made without waiting for each other reach Kafka in the order made (produced side by side, a
 * request retried after a leader change could land after the next, and take the next inbox number).
 */
export class NotifyClient {
  /** Each key's requests, produced one call at a time. */
  private readonly requests = new KeyedTurns();
  /** Each user's recipient updates, produced one at a time. */
  private readonly updates = new KeyedTurns();

  private constructor(private readonly producer: Producer) {}

  static async connect(options: NotifyClientOptions): Promise<NotifyClient> {
    const kafka = new Kafka({ clientId: options.clientId ?? 'notify-client', brokers: options.brokers, ssl: options.ssl, sasl: options.sasl });
    // One produce request in flight per broker: the chunks of one sendMany reach a partition in order.
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
      const value = JSON.stringify(request);
      const { to, id } = valueOf(readRequestText(value));
      if (Buffer.byteLength(value) > MAX_REQUEST_BYTES) {
        throw new InvalidNotificationRequest([`(root): request is larger than ${MAX_REQUEST_BYTES} bytes`]);
      }
      return { key: 'userId' in to ? to.userId : id, value };
    });
    await this.requests.runAll(
      messages.map((m) => m.key),
      () => sendInChunks(this.producer, [{ topic: Topics.requests, messages }]),
    );
  }

  /**
   * Publishes a recipient change (contract section 2), keyed by user id. A user's changes are produced
   * one after the other, each once the one before has been taken or has failed, so changes sent without
   * waiting for each other apply in the order sent: produced side by side, a device's registration
   * retried after a leader change could land after its removal and bring the device back. Each record
   * carries the time of its call: the platform orders a push token's registrations by it (contract
   * §2), and stamped by kafkajs when it went out (after the user's turn, or a retry), a registration
   * made before another user's could take the token back from them.
   */
  async updateRecipient(update: RecipientUpdate): Promise<void> {
    const value = JSON.stringify(update);
    const { userId } = valueOf(readRecipientUpdateText(value));
    const timestamp = String(Date.now());
    await this.updates.run(userId, () => this.producer.send({ topic: Topics.recipients, messages: [{ key: userId, value, timestamp }] }));
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}

/** What the platform reads from the JSON about to be produced, or the error naming each problem. */
function valueOf<T>(reading: JsonReading<T>): T {
  if (!reading.ok) throw new InvalidNotificationRequest(reading.problems);
  return reading.value;
}
