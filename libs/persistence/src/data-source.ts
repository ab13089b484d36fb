import { DataSource } from 'typeorm';
import { DeliveryEntity } from './entities/delivery.entity';
import { InboxEntryEntity, InboxSequenceEntity } from './entities/inbox.entity';
import { MessageEntity, RequestKeyEntity } from './entities/message.entity';
import { DeviceEntity, RecipientEntity, TopicSubscriptionEntity } from './entities/recipient.entity';
import { InitialSchema1763600000000 } from './migrations/1763600000000-initial-schema';
import { Recipients1763600000001 } from './migrations/1763600000001-recipients';
import { SocketIoAttachments1763600000002 } from './migrations/1763600000002-socket-io-attachments';

export const ENTITIES = [
  RequestKeyEntity,
  MessageEntity,
  DeliveryEntity,
  InboxSequenceEntity,
  InboxEntryEntity,
  RecipientEntity,
  DeviceEntity,
  TopicSubscriptionEntity,
];
export const MIGRATIONS = [InitialSchema1763600000000, Recipients1763600000001, SocketIoAttachments1763600000002];

export interface DatabaseSettings {
  databaseUrl: string;
  databasePoolSize?: number;
  applicationName?: string;
}

/** The schema comes from the migrations only: `synchronize` is off, in tests too. */
export function createDataSource(settings: DatabaseSettings): DataSource {
  return new DataSource({
    type: 'postgres',
    url: settings.databaseUrl,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTableName: 'schema_migrations',
    uuidExtension: 'pgcrypto',
    applicationName: settings.applicationName ?? 'notify',
    extra: { max: settings.databasePoolSize ?? 10 },
  });
}

/** Applies every pending migration in one transaction and returns their names. */
export async function runMigrations(settings: DatabaseSettings): Promise<string[]> {
  const dataSource = createDataSource({ ...settings, databasePoolSize: 1 });
  await dataSource.initialize();
  try {
    const applied = await dataSource.runMigrations({ transaction: 'all' });
    return applied.map((migration) => migration.name);
  } finally {
    await dataSource.destroy();
  }
}
