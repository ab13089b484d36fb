import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The last inbox sequence number handed out per user; its row lock keeps the sequence gap-free. */
@Entity('inbox_sequences')
export class InboxSequenceEntity {
  @PrimaryColumn({ name: 'user_id', type: 'varchar', length: 128 })
  userId!: string;

  @Column({ name: 'last_seq', type: 'bigint' })
  lastSeq!: string;
}

/** A message in one user's inbox, at its sequence number, in the user's locale; `createdAt` is the message's. */
@Entity('inbox_entries')
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
}
