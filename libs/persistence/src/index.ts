export * from './data-source';
export * from './entities/message.entity';
export * from './entities/delivery.entity';
export * from './entities/inbox.entity';
export * from './stores/ingest.store';
export * from './stores/delivery-outcome.store';
export * from './persistence.module';
