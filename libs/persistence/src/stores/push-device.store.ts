import type { DataSource } from 'typeorm';
import type { PushProvider } from '@notify/contracts';
import { queryRows } from './rows';

export interface DeviceKey {
  userId: string;
  deviceId: string;
}

/** A device that can receive vendor push now. `token` is personal data: never log it. */
export interface PushDevice extends DeviceKey {
  provider: PushProvider;
  token: string;
  /**
   * When the registration read was written, in microseconds since the epoch: a vendor's "this token
   * is dead" deactivates that registration only, not one the app made again since (a reinstall can
   * register the same token while the send is under way).
   */
  registration: string;
}

/** `devices.updated_at` of `v` in microseconds, exact whatever the session's settings. */
export const REGISTRATION_MICROS = `(extract(epoch FROM v.updated_at) * 1000000)::bigint`;

/** Device tokens for push deliveries: the jobs name devices, the tokens stay in the database. */
export class PushDeviceStore {
  constructor(private readonly dataSource: DataSource) {}

  /** The active devices among `keys`, in one query; a removed or deactivated device is simply absent. */
  async activeDevices(keys: DeviceKey[]): Promise<PushDevice[]> {
    if (keys.length === 0) return [];
    const rows = await queryRows<{ user_id: string; device_id: string; provider: PushProvider; token: string; registration: string }>(
      this.dataSource,
      `SELECT v.user_id, v.device_id, v.provider, v.token, ${REGISTRATION_MICROS} AS registration
         FROM unnest($1::varchar[], $2::varchar[]) AS k(user_id, device_id)
         JOIN devices v ON v.user_id = k.user_id AND v.device_id = k.device_id
        WHERE v.active`,
      [keys.map((k) => k.userId), keys.map((k) => k.deviceId)],
    );
    return rows.map((row) => ({ userId: row.user_id, deviceId: row.device_id, provider: row.provider, token: row.token, registration: row.registration }));
  }
}
