import type { DataSource } from 'typeorm';
import { queryPrepared } from './prepared-statements';

export interface StatsFilter {
  type?: string;
  requestId?: string;
  /** The UTC days overlapping [since, until) are counted. */
  since?: Date;
  until?: Date;
}

/**
 * Counts over the selected messages: `requested` messages, and deliveries by their current row —
 * `sent` has had an attempt, `delivered` was acknowledged or confirmed (read and clicked included),
 * `failed` failed its last attempt and may be retried, `dead` has no retries left, `read` was read
 * (clicked included), `clicked`.
 */
export interface DeliveryTotals {
  requested: number;
  sent: number;
  delivered: number;
  failed: number;
  dead: number;
  read: number;
  clicked: number;
}

type TotalsRow = Record<keyof DeliveryTotals, string | null>;

/** 0001-01-01T00:00:00Z, the earliest a google.protobuf.Timestamp may be. */
const FIRST_DAY_MS = Date.parse('0001-01-01T00:00:00Z');
/** The ends of a range of days left open: every day a counter row can have, infinite ones included, lies between them. */
const NO_FIRST_DAY = '-infinity';
const NO_LAST_DAY = 'infinity';
const NOTHING: DeliveryTotals = { requested: 0, sent: 0, delivered: 0, failed: 0, dead: 0, read: 0, clicked: 0 };
const DELIVERY_COUNTERS = ['sent', 'delivered', 'failed', 'dead', 'read', 'clicked'] as const;

/** Reads the counters the triggers of migration 1763600000011 keep; never the deliveries themselves. */
export class DeliveryStatsStore {
  constructor(private readonly dataSource: DataSource) {}

  async totals(filter: StatsFilter): Promise<DeliveryTotals> {
    return filter.requestId ? this.ofRequest(filter.requestId, filter) : this.ofDays(filter);
  }

  /** Sums the daily rows (every slot) of the type, or of every type, in the day range. */
  private async ofDays(filter: StatsFilter): Promise<DeliveryTotals> {
    const params: unknown[] = [];
    const conditions: string[] = [];
    const param = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    // Nothing happened before the first instant a timestamp can name (and its day before is year 0, which PostgreSQL has not).
    if (filter.until && filter.until.getTime() <= FIRST_DAY_MS) return NOTHING;
    if (filter.type) conditions.push(`type = ${param(filter.type)}`);
    // Both ends or neither, an end not given left open: a generic plan estimates a range of one
    // parameter at a third of the table, and reads all of it rather than ix_daily_delivery_stats_day.
    if (filter.since || filter.until) {
      conditions.push(`day >= ${param(filter.since ? dayOf(filter.since) : NO_FIRST_DAY)}::date`);
      conditions.push(`day <= ${param(filter.until ? dayOf(new Date(filter.until.getTime() - 1)) : NO_LAST_DAY)}::date`);
    }
    const [row] = await queryPrepared<TotalsRow>(
      this.dataSource,
      `SELECT sum(requested) AS requested, ${DELIVERY_COUNTERS.map((c) => `sum(${c}) AS ${c}`).join(', ')}
         FROM daily_delivery_stats ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}`,
      params,
    );
    return toTotals(row);
  }

  /** The request's own row; a request without deliveries yet is still one requested message. */
  private async ofRequest(requestId: string, filter: StatsFilter): Promise<DeliveryTotals> {
    const [row] = await queryPrepared<TotalsRow & { type: string; day: string }>(
      this.dataSource,
      `SELECT m.type, to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, 1 AS requested,
              ${DELIVERY_COUNTERS.map((c) => `s.${c}`).join(', ')}
         FROM request_keys k
         CROSS JOIN LATERAL (SELECT x.type FROM messages x WHERE x.id = k.message_id AND x.created_at = k.created_at LIMIT 1) AS m
         LEFT JOIN request_delivery_stats s ON s.request_id = k.request_id
        WHERE k.request_id = $1`,
      [requestId],
    );
    if (!row) return NOTHING;
    if (filter.type && row.type !== filter.type) return NOTHING;
    if (filter.since && row.day < dayOf(filter.since)) return NOTHING;
    if (filter.until && row.day > dayOf(new Date(filter.until.getTime() - 1))) return NOTHING;
    return toTotals(row);
  }
}

function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

function toTotals(row: TotalsRow | undefined): DeliveryTotals {
  if (!row) return NOTHING;
  const count = (value: string | null): number => (value === null ? 0 : Number(value));
  return {
    requested: count(row.requested),
    sent: count(row.sent),
    delivered: count(row.delivered),
    failed: count(row.failed),
    dead: count(row.dead),
    read: count(row.read),
    clicked: count(row.clicked),
  };
}
