import { ErrorCode, type NotificationRequest } from '@notify/contracts';
import type { ConsumedRecord, Rejection } from '@notify/kafka';
import type { PlannedMessage } from '@notify/persistence';
import { planMessage, TemplateRenderError, type PlanningContext } from '../planning/message-planner';
import type { Route, RouteTable } from '../routing/route-table';
import { parseRequestRecord, sendAtProblem } from './request-parser';

/** A copy of a request that can be planned: valid and routed. */
export interface PlannableCopy {
  request: NotificationRequest;
  route: Route;
  record: ConsumedRecord;
}
/**
 * A copy of a request: one that can be planned, or one refused already (a record with a valid id that
 * breaks the schema, or a valid request whose type has no route: see `ParsedRecord`).
 */
export type Copy = PlannableCopy | { rejection: Rejection };

/**
 * Every copy of each request id with a valid id, in order: the first copy that can be planned is the
 * request. A record without a valid id is a rejection of its own.
 */
export function groupCopies(records: ConsumedRecord[], routes: RouteTable): { copies: Map<string, Copy[]>; rejections: Rejection[] } {
  const rejections: Rejection[] = [];
  const copies = new Map<string, Copy[]>();
  for (const record of records) {
    const parsed = parseRequestRecord(record, routes);
    const id = parsed.ok ? parsed.request.id : parsed.requestId;
    if (id === undefined) {
      if (!parsed.ok) rejections.push(parsed.rejection);
      continue;
    }
    const copy: Copy = parsed.ok ? { request: parsed.request, route: parsed.route, record } : { rejection: parsed.rejection };
    const earlier = copies.get(id);
    if (earlier) earlier.push(copy);
    else copies.set(id, [copy]);
  }
  return { copies, rejections };
}

/**
 * The messages a batch's requests are planned into, held until they are taken for one write: one per
 * request id, from the first of its copies that can be planned.
 */
export class BatchPlan {
  private planned: PlannedMessage[] = [];
  private plannedDeliveries = 0;
  /** Where each planned request id's planned copy is among its copies. */
  private readonly plannedAt = new Map<string, number>();

  constructor(
    private readonly copies: Map<string, Copy[]>,
    private readonly context: PlanningContext,
  ) {}

  /** The deliveries of the messages planned and not yet taken. */
  get deliveries(): number {
    return this.plannedDeliveries;
  }

  get isEmpty(): boolean {
    return this.planned.length === 0;
  }

  /** Plans the first copy of `id` from the `start`th on that can be planned, if any; with the rejections of the copies before it. */
  planFrom(id: string, start: number): { planned: boolean; refused: Rejection[] } {
    const list = this.copies.get(id)!;
    const refused: Rejection[] = [];
    for (let at = start; at < list.length; at++) {
      const copy = list[at]!;
      const plan = 'rejection' in copy ? copy : planCopy(copy, this.context);
      if ('rejection' in plan) {
        refused.push(plan.rejection);
        continue;
      }
      this.planned.push(plan.message);
      this.plannedDeliveries += plan.message.deliveries.length;
      this.plannedAt.set(id, at);
      return { planned: true, refused };
    }
    return { planned: false, refused };
  }

  /** Plans the first copy of `id` after the one planned last that can be planned, as `planFrom` does. */
  planAfterPlanned(id: string): { planned: boolean; refused: Rejection[] } {
    return this.planFrom(id, this.plannedAt.get(id)! + 1);
  }

  /** The record of the copy of `id` planned last. */
  plannedRecord(id: string): ConsumedRecord {
    return (this.copies.get(id)![this.plannedAt.get(id)!] as PlannableCopy).record;
  }

  /** The messages planned so far, for one write; the plan holds none after. */
  take(): PlannedMessage[] {
    const messages = this.planned;
    [this.planned, this.plannedDeliveries] = [[], 0];
    return messages;
  }

  /** The messages planned from here on are created at `now`. */
  createFrom(now: Date): void {
    this.context.now = now;
  }
}

/** A request planned into its message and deliveries, or the reason it cannot be. */
function planCopy({ request, route, record }: PlannableCopy, context: PlanningContext): { message: PlannedMessage } | { rejection: Rejection } {
  const tooLate = sendAtProblem(request, route, context.now, context.retentionDays);
  if (tooLate) return { rejection: { record, code: ErrorCode.SchemaViolation, reason: tooLate } };
  try {
    return { message: planMessage(request, route, context) };
  } catch (error) {
    if (!(error instanceof TemplateRenderError)) throw error;
    return { rejection: { record, code: ErrorCode.TemplateError, reason: error.message } };
  }
}
