import { ErrorCode, Topics } from '@notify/contracts';
import type { ConsumedRecord } from '@notify/kafka';
import type { RecipientDirectory } from '@notify/persistence';
import { RouteTable } from '../routing/route-table';
import { BatchPlan, groupCopies } from './batch-plan';

const NOW = new Date('2026-11-22T10:00:00.000Z');

const routes = RouteTable.from({
  version: 1,
  routes: {
    'order.shipped': { channels: ['websocket'], templates: { en: { title: 'Order {orderNo} shipped', body: '' } } },
  },
});

const directory: RecipientDirectory = { subscribers: new Map(), profiles: new Map(), devices: new Map() };

let offset = 0;
function record(value: string | Record<string, unknown>): ConsumedRecord {
  return {
    topic: Topics.requests,
    partition: 0,
    offset: String(offset++),
    key: null,
    value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)),
    headers: {},
    timestamp: '1764000000000',
  };
}

function request(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: 'order-1', type: 'order.shipped', to: { userId: 'u-1' }, data: { orderNo: '1' }, ...overrides };
}

function planOf(records: ConsumedRecord[]): BatchPlan {
  let next = 0;
  return new BatchPlan(groupCopies(records, routes).copies, { now: NOW, newId: () => `id-${++next}`, directory, retentionDays: 30 });
}

describe('groupCopies', () => {
  it('groups the copies of each request id in order, and rejects a record without a valid id on its own', () => {
    const records = [record(request()), record('not json'), record(request({ id: 'order-2', to: 'nobody' })), record(request())];
    const { copies, rejections } = groupCopies(records, routes);
    expect([...copies.keys()]).toEqual(['order-1', 'order-2']);
    expect(copies.get('order-1')!.map((c) => ('record' in c ? c.record : undefined))).toEqual([records[0], records[3]]);
    expect(copies.get('order-2')!.map((c) => ('rejection' in c ? c.rejection.code : 'plannable'))).toEqual([ErrorCode.SchemaViolation]);
    expect(rejections.map((r) => r.record)).toEqual([records[1]]);
  });
});

describe('BatchPlan', () => {
  it('plans the first copy of a request id that can be planned, with the rejections of the copies before it', () => {
    const records = [
      record(request({ to: 'nobody' })),
      record(request({ sendAt: '2027-06-01T00:00:00Z' })),
      record(request({ data: {} })),
      record(request({ data: { orderNo: '1', note: 'planned' } })),
      record(request({ data: { orderNo: '1', note: 'duplicate' } })),
    ];
    const plan = planOf(records);
    const { planned, refused } = plan.planFrom('order-1', 0);
    expect(planned).toBe(true);
    expect(refused.map((r) => [r.record, r.code])).toEqual([
      [records[0], ErrorCode.SchemaViolation],
      [records[1], ErrorCode.SchemaViolation],
      [records[2], ErrorCode.TemplateError],
    ]);
    expect(plan.plannedRecord('order-1')).toBe(records[3]);
    expect(plan.deliveries).toBe(1);
    expect(plan.take().map((m) => m.data)).toEqual([{ orderNo: '1', note: 'planned' }]);
  });

  it('holds nothing once taken, and plans the copy after the one planned for a request id PostgreSQL refused', () => {
    const records = [record(request({ data: { orderNo: '1', note: 'refused' } })), record(request({ data: {} })), record(request({ data: { orderNo: '1', note: 'next' } }))];
    const plan = planOf(records);
    plan.planFrom('order-1', 0);
    plan.take();
    expect(plan.isEmpty).toBe(true);
    expect(plan.deliveries).toBe(0);

    const { planned, refused } = plan.planAfterPlanned('order-1');
    expect(planned).toBe(true);
    expect(refused.map((r) => r.record)).toEqual([records[1]]);
    expect(plan.plannedRecord('order-1')).toBe(records[2]);
    expect(plan.take().map((m) => m.data)).toEqual([{ orderNo: '1', note: 'next' }]);
    expect(plan.planAfterPlanned('order-1')).toEqual({ planned: false, refused: [] });
    expect(plan.isEmpty).toBe(true);
  });

  it('creates the messages planned after `createFrom` at its time', () => {
    const plan = planOf([record(request()), record(request({ id: 'order-2' }))]);
    plan.planFrom('order-1', 0);
    const later = new Date(NOW.getTime() + 5_000);
    plan.createFrom(later);
    plan.planFrom('order-2', 0);
    expect(plan.take().map((m) => m.createdAt)).toEqual([NOW, later]);
  });
});
