import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { z } from 'zod';
import * as contracts from './index';
import { contractJsonSchemaFiles, contractJsonSchemas } from './json-schema';

const DIR = join(__dirname, '..', 'json-schema');
const REGENERATE = 'run `npm run contracts:json-schema` and commit libs/contracts/json-schema/';

/** Exported zod schemas and the file each one is published as. */
const MESSAGES: Record<string, string> = {
  NotificationRequestSchema: 'notification-request.schema.json',
  RecipientUpdateSchema: 'recipient-update.schema.json',
  OutcomeEventSchema: 'outcome-event.schema.json',
  InboxMessageSchema: 'inbox-message.schema.json',
  DeliveryJobSchema: 'delivery-job.schema.json',
  DeliveryBatchSchema: 'delivery-batch.schema.json',
};
/** Exported zod schemas that are only parts of the messages above, not published on their own. */
const PARTS = [
  'ChannelSchema',
  'PushProviderSchema',
  'RequestIdSchema',
  'UserIdSchema',
  'EmailSchema',
  'LocaleSchema',
  'RecipientSelectorSchema',
  'PrioritySchema',
  'DeliveryStatusSchema',
  'WebsocketDeliverySchema',
];

/** An independent draft 2020-12 validator, with formats checked. */
function validatorFor(schema: object): (value: unknown) => boolean {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const validate = ajv.compile(schema);
  return (value) => validate(value) === true;
}

const requestExample = {
  id: 'order-1234-shipped',
  type: 'order.shipped',
  to: { userId: 'u-42' },
  data: { orderNo: '1234' },
  content: { title: 'Your order shipped', body: 'Order 1234 is on its way' },
  channels: ['websocket', 'push'],
  locale: 'zh-CN',
  sendAt: '2026-12-01T09:00:00Z',
  expiresAt: '2026-12-02T09:00:00Z',
  priority: 'normal',
};

/** [file, what, zod schema, example, valid?] */
const EXAMPLES: [string, string, z.ZodType, unknown, boolean][] = [
  ['notification-request.schema.json', 'the example of section 1', contracts.NotificationRequestSchema, requestExample, true],
  ['notification-request.schema.json', 'the minimal request', contracts.NotificationRequestSchema, { id: 'a', type: 't', to: { topic: 'promotions' } }, true],
  ['notification-request.schema.json', 'two `to` selectors', contracts.NotificationRequestSchema, { ...requestExample, to: { userId: 'u-42', topic: 'promotions' } }, false],
  ['notification-request.schema.json', 'a bad id', contracts.NotificationRequestSchema, { ...requestExample, id: 'order 1234/shipped' }, false],
  ['notification-request.schema.json', 'an unknown channel', contracts.NotificationRequestSchema, { ...requestExample, channels: ['websocket', 'pigeon'] }, false],
  ['notification-request.schema.json', 'no `to`', contracts.NotificationRequestSchema, { id: 'a', type: 't' }, false],
  ['recipient-update.schema.json', 'upsert', contracts.RecipientUpdateSchema, { op: 'upsert', userId: 'u-42', phone: '+8613800000000', email: 'a@example.com', locale: 'zh-CN', timezone: 'Asia/Shanghai' }, true],
  ['recipient-update.schema.json', 'device', contracts.RecipientUpdateSchema, { op: 'device', userId: 'u-42', deviceId: 'ipad-1', provider: 'apns', token: '…', locale: 'en-US' }, true],
  ['recipient-update.schema.json', 'device-removed', contracts.RecipientUpdateSchema, { op: 'device-removed', userId: 'u-42', deviceId: 'ipad-1' }, true],
  ['recipient-update.schema.json', 'subscribe', contracts.RecipientUpdateSchema, { op: 'subscribe', userId: 'u-42', topic: 'promotions' }, true],
  ['recipient-update.schema.json', 'unsubscribe', contracts.RecipientUpdateSchema, { op: 'unsubscribe', userId: 'u-42', topic: 'promotions' }, true],
  ['recipient-update.schema.json', 'user-removed', contracts.RecipientUpdateSchema, { op: 'user-removed', userId: 'u-42' }, true],
  ['recipient-update.schema.json', 'user-removed without its user', contracts.RecipientUpdateSchema, { op: 'user-removed' }, false],
  ['recipient-update.schema.json', 'an unknown provider', contracts.RecipientUpdateSchema, { op: 'device', userId: 'u-42', deviceId: 'ipad-1', provider: 'pigeon', token: 't' }, false],
  ['recipient-update.schema.json', 'an unknown op', contracts.RecipientUpdateSchema, { op: 'delete', userId: 'u-42' }, false],
  ['notification-request.schema.json', 'a link with its scheme in capitals', contracts.NotificationRequestSchema, { ...requestExample, content: { url: 'HTTPS://shop.example/x' } }, true],
  ['recipient-update.schema.json', 'a field cleared twice', contracts.RecipientUpdateSchema, { op: 'upsert', userId: 'u-42', clear: ['phone', 'phone'] }, false],
  ['recipient-update.schema.json', 'a time zone in the wrong case', contracts.RecipientUpdateSchema, { op: 'upsert', userId: 'u-42', timezone: 'asia/shanghai' }, false],
  ['outcome-event.schema.json', 'the example of section 3', contracts.OutcomeEventSchema, { requestId: 'order-1234-shipped', messageId: '…', userId: 'u-42', channel: 'websocket', status: 'delivered', attempt: 1, at: '2026-11-22T10:00:00.123Z', error: null }, true],
  ['outcome-event.schema.json', 'an unknown status', contracts.OutcomeEventSchema, { requestId: 'r', messageId: 'm', userId: null, channel: 'sms', status: 'lost', attempt: 1, at: '2026-11-22T10:00:00.123Z', error: null }, false],
  ['inbox-message.schema.json', 'a message of section 4', contracts.InboxMessageSchema, { id: 'm-1', seq: 17, type: 'order.shipped', title: 'Shipped', body: 'On its way', data: { orderNo: '1234' }, createdAt: '2026-11-22T10:00:00.123Z' }, true],
  ['inbox-message.schema.json', 'seq 0', contracts.InboxMessageSchema, { id: 'm-1', seq: 0, type: 't', title: '', body: '', data: {}, createdAt: '2026-11-22T10:00:00.123Z' }, false],
];

describe('contract JSON Schema', () => {
  it('the files in libs/contracts/json-schema/ are what contractJsonSchemas() produces now', () => {
    const expected = contractJsonSchemaFiles();
    const committed = readdirSync(DIR).filter((file) => file.endsWith('.json'));
    const problems = [
      ...Object.keys(expected)
        .filter((file) => !committed.includes(file))
        .map((file) => `${file} is missing`),
      ...committed.filter((file) => !(file in expected)).map((file) => `${file} is no longer produced`),
      ...committed
        .filter((file) => file in expected && readFileSync(join(DIR, file), 'utf8') !== expected[file])
        .map((file) => `${file} is stale`),
    ];
    expect(problems.map((problem) => `${problem}: ${REGENERATE}`)).toEqual([]);
  });

  it('publishes every exported message schema, with $id, title and description', () => {
    const exported = Object.entries(contracts)
      .filter(([name, value]) => name.endsWith('Schema') && value instanceof z.ZodType)
      .map(([name]) => name);
    expect(exported.filter((name) => !(name in MESSAGES) && !PARTS.includes(name))).toEqual([]);

    const schemas = contractJsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual(Object.values(MESSAGES).sort());
    for (const [name, file] of Object.entries(MESSAGES)) {
      const { $id, title, description, ...body } = schemas[file] as Record<string, unknown>;
      expect($id).toBe(`https://notify.local/schemas/v1/${file}`);
      expect(typeof title === 'string' && typeof description === 'string' && description.length > 0).toBe(true);
      const zodSchema = (contracts as Record<string, unknown>)[name] as z.ZodType;
      expect(body).toEqual({ ...z.toJSONSchema(zodSchema, { target: 'draft-2020-12', io: 'input' }) });
      expect(body.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    }
    expect((schemas['notification-request.schema.json'] as { description: string }).description).toContain('64 KiB');
  });


  describe('an independent validator (ajv) agrees with zod on the contract examples', () => {
    const schemas = contractJsonSchemas();
    it.each(EXAMPLES)('%s: %s', (file, _what, zodSchema, example, valid) => {
      expect(validatorFor(schemas[file] as object)(example)).toBe(valid);
      expect(zodSchema.safeParse(example).success).toBe(valid);
    });
  });
});
