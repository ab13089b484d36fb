import { Module, type DynamicModule } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ClickLinks, Topics } from '@notify/contracts';
import type { RealtimeGatewayConfig } from '@notify/config';
import { deadLetterTopic, FATAL_ERROR_HANDLER, KafkaModule, type FatalErrorHandler } from '@notify/kafka';
import { ObservabilityModule, type AppLogger } from '@notify/observability';
import { PersistenceModule, ReturningReceiversStore } from '@notify/persistence';
import { TokenVerifier } from './auth/token-verifier';
import { ClickController } from './clicks/click.controller';
import { CLICK_LINKS } from './clicks/click-links';
import { ClickWrites } from './clicks/click-writes';
import { UnsubscribeController } from './clicks/unsubscribe.controller';
import { DemoController } from './demo/demo.controller';
import { EventPublisher } from './delivery/event-publisher';
import { OutcomeRecorder } from './delivery/outcome-recorder';
import { DELIVERY_SETTINGS, WebsocketDelivery } from './delivery/websocket-delivery';
import { CLIENT_REQUESTS_AT_ONCE, clientRequestsAtOnce, InboxRequests } from './realtime/inbox-requests';
import { REALTIME_SETTINGS, RealtimeServer } from './realtime/realtime-server';
import { ReturningBrowsers } from './realtime/returning-browsers';

@Module({})
export class RealtimeGatewayModule {
  static register(config: RealtimeGatewayConfig, logger: AppLogger, onFatal: FatalErrorHandler): DynamicModule {
    return {
      module: RealtimeGatewayModule,
      imports: [
        ObservabilityModule.forApp('realtime-gateway', logger),
        PersistenceModule.forRoot({ ...config, applicationName: 'realtime-gateway' }),
        KafkaModule.forRoot({
          clientId: 'realtime-gateway',
          connection: config,
          topics: [Topics.deliver.websocket, deadLetterTopic(Topics.deliver.websocket), Topics.events],
          partitions: config.kafkaTopicPartitions,
          replicationFactor: config.kafkaReplicationFactor,
        }),
      ],
      controllers: [ClickController, UnsubscribeController, ...(config.demoPage ? [DemoController] : [])],
      providers: [
        { provide: CLICK_LINKS, useValue: ClickLinks.of(config) ?? null },
        { provide: TokenVerifier, useValue: new TokenVerifier(config) },
        { provide: REALTIME_SETTINGS, useValue: config },
        { provide: DELIVERY_SETTINGS, useValue: config },
        { provide: FATAL_ERROR_HANDLER, useValue: onFatal },
        { provide: CLIENT_REQUESTS_AT_ONCE, useValue: clientRequestsAtOnce(config.databasePoolSize) },
        { provide: ReturningReceiversStore, useFactory: (ds: DataSource) => new ReturningReceiversStore(ds), inject: [DataSource] },
        ClickWrites,
        EventPublisher,
        InboxRequests,
        RealtimeServer,
        ReturningBrowsers,
        OutcomeRecorder,
        WebsocketDelivery,
      ],
    };
  }
}
