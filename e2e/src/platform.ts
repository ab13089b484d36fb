import { randomBytes } from 'node:crypto';
import type { INestApplication } from '@nestjs/common';
import jwt from 'jsonwebtoken';
import { Kafka, Partitioners, type Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { io, type Socket } from 'socket.io-client';
import { type DataSource } from 'typeorm';
import { loadMessageCenterConfig, loadRealtimeGatewayConfig } from '@notify/config';
import { REALTIME_NAMESPACE, Topics, type ClientToServerEvents, type InboxMessage, type ServerToClientEvents } from '@notify/contracts';
import { startMessageCenter } from '@notify/message-center';
import { createLogger, listeningPort } from '@notify/observability';
import { createDataSource } from '@notify/persistence';
import { RealtimeServer, startRealtimeGateway } from '@notify/realtime-gateway';
import { eventually } from '@notify/testing';
import { NotificationInbox } from '@notify/client/browser/notification-inbox.js';
import { messageCenterGroups, startGroupsAtTheEnd, testKafka } from './kafka-admin';

export type NotificationSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * The message center and a realtime gateway, in this process, against the run's broker and database
 * (or the suite's own, `databaseUrl`). Their consumer groups start at their topics' ends.
 */
export class RunningPlatform {
  readonly fatalErrors: Error[] = [];
  readonly jwtSecret = randomBytes(24).toString('hex');
  private apps: INestApplication[] = [];
  private consumingGateway?: RealtimeServer;
  private consumingGatewayApp?: INestApplication;
  private sockets: NotificationSocket[] = [];
  gatewayPort = 0;
  /** Ports of further gateways started with `addGateway`. */
  readonly edgePorts: number[] = [];
  producer!: Producer;
  db!: DataSource;
  private readonly env: NodeJS.ProcessEnv;
  private readonly logger = createLogger('e2e', process.env.LOG_LEVEL ?? 'warn');
  private readonly onFatal = (error: Error) => void this.fatalErrors.push(error);

  /**
   * @param gatewayEnv settings of the gateways, e.g. a short acknowledgement timeout
   * @param databaseUrl the suite's own database (`ownDatabase`), known once its `beforeAll` has run
   */
  constructor(
    gatewayEnv: Record<string, string> = {},
    private readonly databaseUrl: () => string = () => process.env.DATABASE_URL!,
  ) {
    // Groups of its own: a suite that left the defaults' consumers running would keep the next from starting them at the end.
    this.env = {
      ...process.env,
      MESSAGE_CENTER_PORT: '0',
      MESSAGE_CENTER_GROUP: uniqueId('e2e-mc'),
      GATEWAY_PORT: '0',
      GATEWAY_GROUP: uniqueId('e2e-gw'),
      JWT_SECRET: this.jwtSecret,
      NOTIFY_ROUTES: 'config/routes.yaml',
      ...gatewayEnv,
    };
  }

  async start(): Promise<void> {
    this.env.DATABASE_URL = this.databaseUrl();
    const centerConfig = loadMessageCenterConfig(this.env);
    const gatewayConfig = loadRealtimeGatewayConfig(this.env);
    await startGroupsAtTheEnd(testKafka(), [...messageCenterGroups(centerConfig.consumerGroup), { groupId: gatewayConfig.consumerGroup, topic: Topics.deliver.websocket }]);
    this.apps.push(await startMessageCenter(centerConfig, this.logger, { onFatal: this.onFatal }));
    const gateway = await startRealtimeGateway(gatewayConfig, this.logger, this.onFatal);
    this.apps.push(gateway);
    this.consumingGatewayApp = gateway;
    this.consumingGateway = gateway.get(RealtimeServer);
    this.gatewayPort = listeningPort(gateway);
    const kafka = new Kafka({ clientId: 'e2e-producer', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: 1 });
    this.producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await this.producer.connect();
    this.db = await createDataSource({ databaseUrl: this.env.DATABASE_URL, databasePoolSize: 2 }).initialize();
  }

  /** Another gateway of the cluster that holds connections but consumes nothing: what reaches its clients came through the adapter. */
  async addEdgeGateway(): Promise<number> {
    const gateway = await startRealtimeGateway(loadRealtimeGatewayConfig({ ...this.env, GATEWAY_DELIVERY_CONSUMER: 'false' }), this.logger, this.onFatal);
    this.apps.push(gateway);
    // Until the consuming gateway has heard the new one's heartbeat, it would call its users offline.
    await eventually(() => this.consumingGateway!.clusterSize(), (n) => n === 2 + this.edgePorts.length);
    this.edgePorts.push(listeningPort(gateway));
    this.edgeGateways.set(listeningPort(gateway), gateway);
    return listeningPort(gateway);
  }
  private readonly edgeGateways = new Map<number, INestApplication>();

  /** The gateways the consuming gateway knows in its cluster, itself included. */
  clusterSize(): Promise<number> {
    return this.consumingGateway!.clusterSize();
  }

  /**
   * Keeps the edge gateway's cluster connections busy with `queries` statements of `seconds` each:
   * what its adapter publishes meanwhile (client counts, relayed acknowledgements) waits behind them,
   * as behind the other gateways' traffic on a busy cluster.
   */
  busyEdgeClusterConnections(port: number, queries: number, seconds: number): void {
    busyClusterConnections(this.edgeGateways.get(port)!, queries, seconds);
  }

  /** The same for the consuming gateway: with all of them busy, its adapter cannot take a LISTEN connection, and it hears nothing. */
  busyConsumingClusterConnections(queries: number, seconds: number): void {
    busyClusterConnections(this.consumingGatewayApp!, queries, seconds);
  }

  /** The acknowledgements the gateway listening on `port` still waits for from its connections of `userId` (socket.io's own record). */
  owedAcknowledgements(port: number, userId: string): number {
    const gateway = port === this.gatewayPort ? this.consumingGatewayApp! : this.edgeGateways.get(port)!;
    const namespace = (gateway.get(RealtimeServer) as unknown as { namespace: { sockets: Map<string, { data: { userId: string }; acks: Map<number, unknown> }> } }).namespace;
    return [...namespace.sockets.values()].filter((socket) => socket.data.userId === userId).reduce((owed, socket) => owed + socket.acks.size, 0);
  }

  tokenFor(userId: string, expiresIn = '1h'): string {
    return jwt.sign({ sub: userId }, this.jwtSecret, { algorithm: 'HS256', expiresIn } as jwt.SignOptions);
  }

  /** The browser module connected as the user, handing the titles of the messages it shows to `shown`. */
  connectInbox(userId: string, shown: string[]): NotificationInbox {
    const inbox = new NotificationInbox({
      io: io as never,
      url: `http://127.0.0.1:${this.gatewayPort}`,
      token: this.tokenFor(userId),
      onMessages: (messages) => void shown.push(...messages.map((m) => m.title)),
    });
    inbox.connect();
    return inbox;
  }

  /** A socket.io-client connected as the user; resolves once the server has accepted it. */
  async connect(userId: string, options: { port?: number; deviceId?: string; auth?: Record<string, unknown> } = {}): Promise<NotificationSocket> {
    const socket: NotificationSocket = io(`http://127.0.0.1:${options.port ?? this.gatewayPort}${REALTIME_NAMESPACE}`, {
      auth: { token: this.tokenFor(userId), deviceId: options.deviceId, ...options.auth },
      transports: ['websocket'],
      reconnection: false,
    });
    this.sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  }

  /** Connects as the user and acknowledges (and keeps) every notification that arrives. */
  async connectAndCollect(
    userId: string,
    options: Parameters<RunningPlatform['connect']>[1] = {},
  ): Promise<{ socket: NotificationSocket; received: InboxMessage[] }> {
    const socket = await this.connect(userId, options);
    const received: InboxMessage[] = [];
    socket.on('notification', (message, ack) => {
      received.push(message);
      ack({ ok: true });
    });
    return { socket, received };
  }

  async produceRequest(request: Record<string, unknown>, key: string): Promise<void> {
    await this.producer.send({ topic: 'notify.requests', messages: [{ key, value: JSON.stringify(request) }] });
  }

  /**
   * Closes the gateway that consumes deliveries, as a deploy does; `stop` leaves it alone then.
   * `whenClosingSockets` runs as the gateway turns to its connections, after its consumer stopped.
   */
  async closeConsumingGateway(whenClosingSockets: () => void = () => undefined): Promise<void> {
    await this.closeGateway(this.consumingGatewayApp!, whenClosingSockets);
  }

  /** Closes the edge gateway listening on `port` as a deploy does, like `closeConsumingGateway`. */
  async closeEdgeGateway(port: number, whenClosingSockets: () => void = () => undefined): Promise<void> {
    await this.closeGateway(this.edgeGateways.get(port)!, whenClosingSockets);
    this.edgeGateways.delete(port);
    this.edgePorts.splice(this.edgePorts.indexOf(port), 1);
  }

  private async closeGateway(gateway: INestApplication, whenClosingSockets: () => void): Promise<void> {
    const server = gateway.get(RealtimeServer);
    const closeSockets = server.beforeApplicationShutdown.bind(server);
    server.beforeApplicationShutdown = () => {
      whenClosingSockets();
      return closeSockets();
    };
    this.apps = this.apps.filter((app) => app !== gateway);
    await gateway.close();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.disconnect();
    await this.producer?.disconnect();
    await this.db?.destroy();
    for (const app of this.apps.reverse()) await app.close();
  }
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

function busyClusterConnections(gateway: INestApplication, queries: number, seconds: number): void {
  // The adapter's pool is the server's own; nothing else reaches it.
  const pool = (gateway.get(RealtimeServer) as unknown as { adapterPool: Pool }).adapterPool;
  for (let i = 0; i < queries; i += 1) void pool.query('SELECT pg_sleep($1)', [seconds]);
}
