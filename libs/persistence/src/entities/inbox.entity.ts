import { Column, Entity, PrimaryColumn, Unique } from 'typeorm';

/** The last inbox sequence number handed out per user; the row lock keeps the sequence gap-free. */
@Entity('inbox_sequences')
export class InboxSequenceEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ name: 'last_seq', type: 'bigint' })
  lastSeq!: string;
}

/** A message in one user's inbox, at its sequence number. */
@Entity('inbox_entries')
@Unique('uq_inbox_message', ['userId', 'messageId'])
export class InboxEntryEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @PrimaryColumn({ type: 'bigint' })
  seq!: string;

  @Column({ name: 'message_id', type: 'uuid' })
  messageId!: string;

  @Column({ name: 'read_at', type: 'timestamptz', nullable: true })
  readAt!: Date | null;
}
