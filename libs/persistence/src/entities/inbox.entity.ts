import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/** The last inbox sequence number handed out per user; its row lock keeps the sequence gap-free. */
@Entity('inbox_sequences')
export class InboxSequenceEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ name: 'last_seq', type: 'bigint' })
  lastSeq!: string;
}

/** The number of the last read stored per user; its row lock makes one user's reads commit in their order. */
@Entity('inbox_read_sequences')
export class InboxReadSequenceEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ name: 'last_read_seq', type: 'bigint' })
  lastReadSeq!: string;
}

/** A message in one user's inbox, at its sequence number, in the user's locale; `createdAt` is the message's. */
@Entity('inbox_entries')
// Partial (WHERE read_seq IS NOT NULL) in the migration (1763600000023).
@Index('ix_inbox_entries_read_seq', { synchronize: false })
export class InboxEntryEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @PrimaryColumn({ type: 'bigint' })
  seq!: string;

  @PrimaryColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'message_id', type: 'uuid' })
  messageId!: string;

  @Column({ type: 'varchar', length: 35 })
  locale!: string;

  @Column({ name: 'read_at', type: 'timestamptz', nullable: true })
  readAt!: Date | null;

  /** The number of the read that first marked it (`inbox_read_sequences`). */
  @Column({ name: 'read_seq', type: 'bigint', nullable: true })
  readSeq!: string | null;
}
