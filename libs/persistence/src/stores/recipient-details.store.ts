import type { DataSource } from 'typeorm';
import type { PushProvider } from '@notify/contracts';
import { queryPrepared } from './prepared-statements';

export interface RegisteredDevice {
  deviceId: string;
  provider: PushProvider;
  locale: string | null;
  active: boolean;
  deactivatedReason: string | null;
  updatedAt: Date;
}

/** Everything kept about one recipient. The push tokens are left out: they are credentials. */
export interface RecipientDetails {
  userId: string;
  phone: string | null;
  email: string | null;
  locale: string | null;
  timezone: string | null;
  /** Null when only devices or topics are known. */
  updatedAt: Date | null;
  devices: RegisteredDevice[];
  topics: string[];
}

interface DetailsRow {
  phone: string | null;
  email: string | null;
  locale: string | null;
  timezone: string | null;
  updated_at: Date | null;
  devices: (Omit<RegisteredDevice, 'updatedAt'> & { updatedAt: string })[];
  topics: string[];
}

/** Reads a recipient's contacts, devices and topics in one round trip. */
export class RecipientDetailsStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Undefined when nothing at all is known of the user. */
  async find(userId: string): Promise<RecipientDetails | undefined> {
    const [row] = await queryPrepared<DetailsRow>(
      this.dataSource,
      `SELECT r.phone, r.email, r.locale, r.timezone, r.updated_at,
              COALESCE((SELECT json_agg(json_build_object(
                                 'deviceId', d.device_id, 'provider', d.provider, 'locale', d.locale, 'active', d.active,
                                 'deactivatedReason', d.deactivated_reason, 'updatedAt', d.updated_at) ORDER BY d.device_id)
                          FROM devices d WHERE d.user_id = $1), '[]') AS devices,
              ARRAY(SELECT t.topic FROM topic_subscriptions t WHERE t.user_id = $1 ORDER BY t.topic) AS topics
         FROM (SELECT 1) AS one
         LEFT JOIN recipients r ON r.user_id = $1`,
      [userId],
    );
    if (!row || (row.updated_at === null && row.devices.length === 0 && row.topics.length === 0)) return undefined;
    return {
      userId,
      phone: row.phone,
      email: row.email,
      locale: row.locale,
      timezone: row.timezone,
      updatedAt: row.updated_at,
      devices: row.devices.map((d) => ({ ...d, updatedAt: new Date(d.updatedAt) })),
      topics: row.topics,
    };
  }
}
