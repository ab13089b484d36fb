import { Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

/** What a query API key may do: read messages and counters, or manage recipients. */
export const API_KEY_SCOPES = ['query', 'recipients'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** A key of the query API, kept as its SHA-256 only; revoked keys stay for the record. */
@Entity('api_keys')
@Unique('uq_api_keys_hash', ['keyHash'])
@Index('uq_api_keys_active_name', { synchronize: false })
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'varchar', length: 128 })
  name!: string;

  @Column({ name: 'key_hash', type: 'varchar', length: 64 })
  keyHash!: string;

  @Column({ type: 'varchar', length: 16, array: true })
  scopes!: ApiKeyScope[];

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;
}
