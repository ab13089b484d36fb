import type { DataSource } from 'typeorm';
import { queryRows } from './rows';

/** A user's phone number and email address as they stand now. Personal data: never log them. */
export interface Contacts {
  phone: string | null;
  email: string | null;
}

/** The users' contacts for the SMS and email senders, which check that a delivery's endpoint is still its user's. */
export class ContactStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Each known user's contacts, in one query; a user the platform knows nothing of is absent. */
  async currentContacts(userIds: string[]): Promise<Map<string, Contacts>> {
    const users = [...new Set(userIds)];
    if (users.length === 0) return new Map();
    const rows = await queryRows<{ user_id: string; phone: string | null; email: string | null }>(
      this.dataSource,
      `SELECT user_id, phone, email FROM recipients WHERE user_id = ANY($1::varchar[])`,
      [users],
    );
    return new Map(rows.map((row) => [row.user_id, { phone: row.phone, email: row.email }]));
  }
}
