import { randomBytes } from 'node:crypto';
import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { QueryApiConfig } from '@notify/config';
import { APP_LOGGER, Metrics, ObservabilityModule, type AppLogger } from '@notify/observability';
import { ApiKeyStore, DeliveryStatsStore, MessageQueryStore, PersistenceModule, RecipientDetailsStore, RecipientStore, withSessionSettings } from '@notify/persistence';
import { ApiKeyAuthenticator } from './auth/api-key-authenticator';
import { queryApiSession, READ_TIMEOUT_MARGIN_MS } from './database-session';
import { GrpcHealth } from './grpc/grpc-transport';
import { UnaryCalls } from './grpc/unary-calls';
import { MessageQueryController } from './messages/message-query.controller';
import { MessageQueryService } from './messages/message-query.service';
import { PageTokens } from './messages/page-tokens';
import { RecipientsController } from './recipients/recipients.controller';
import { RecipientsService } from './recipients/recipients.service';

/** Below this, a bootstrap key still works but the query API warns at start. */
const BOOTSTRAP_KEY_ADVISED_LENGTH = 16;
/** Stores that only the query API uses, over the app's DataSource. */
const stores: Provider[] = [ApiKeyStore, MessageQueryStore, DeliveryStatsStore, RecipientDetailsStore].map((store) => ({
  provide: store,
  useFactory: (ds: DataSource) => new store(ds),
  inject: [DataSource],
}));

@Module({})
export class QueryApiModule {
  static register(config: QueryApiConfig, logger: AppLogger): DynamicModule {
    return {
      module: QueryApiModule,
      imports: [
        ObservabilityModule.forApp('query-api', logger),
        PersistenceModule.forRoot({
          ...config,
          databaseUrl: withSessionSettings(config.databaseUrl, queryApiSession(config.databaseRole, config.databaseTimeoutMs)),
          applicationName: 'query-api',
          keepPoolOpen: true,
          poolWaitMs: config.databaseTimeoutMs,
          queryTimeoutMs: config.databaseTimeoutMs + READ_TIMEOUT_MARGIN_MS,
        }),
      ],
      controllers: [MessageQueryController, RecipientsController],
      providers: [
        ...stores,
        {
          provide: ApiKeyAuthenticator,
          useFactory: (keys: ApiKeyStore, log: AppLogger) => {
            if (config.bootstrapApiKey !== undefined && config.bootstrapApiKey.length < BOOTSTRAP_KEY_ADVISED_LENGTH) {
              log.warn(`BOOTSTRAP_API_KEY is shorter than ${BOOTSTRAP_KEY_ADVISED_LENGTH} characters: fine for a test installation, easy to guess in any other`);
            }
            return new ApiKeyAuthenticator(keys, config);
          },
          inject: [ApiKeyStore, APP_LOGGER],
        },
        {
          provide: PageTokens,
          useFactory: (log: AppLogger) => {
            if (config.pageTokenSecret) return new PageTokens(Buffer.from(config.pageTokenSecret, 'utf8'));
            log.warn('QUERY_API_PAGE_TOKEN_SECRET is not set: page tokens are signed with a random secret and work only on this instance until it restarts');
            return new PageTokens(randomBytes(32));
          },
          inject: [APP_LOGGER],
        },
        {
          provide: UnaryCalls,
          useFactory: (keys: ApiKeyAuthenticator, metrics: Metrics, log: AppLogger) =>
            new UnaryCalls(keys, metrics, log, { concurrency: config.databasePoolSize, waitMs: config.databaseTimeoutMs }),
          inject: [ApiKeyAuthenticator, Metrics, APP_LOGGER],
        },
        {
          provide: MessageQueryService,
          useFactory: (messages: MessageQueryStore, stats: DeliveryStatsStore, tokens: PageTokens) => new MessageQueryService(messages, stats, tokens),
          inject: [MessageQueryStore, DeliveryStatsStore, PageTokens],
        },
        {
          provide: RecipientsService,
          useFactory: (updates: RecipientStore, details: RecipientDetailsStore, log: AppLogger) => new RecipientsService(updates, details, log),
          inject: [RecipientStore, RecipientDetailsStore, APP_LOGGER],
        },
        GrpcHealth,
      ],
    };
  }
}
