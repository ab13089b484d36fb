import { z } from 'zod';
import { DeliveryBatchSchema, DeliveryJobSchema } from './delivery-job';
import { InboxMessageSchema } from './inbox-message';
import { MAX_REQUEST_BYTES, MAX_USER_IDS, NotificationRequestSchema } from './notification-request';
import { OutcomeEventSchema } from './outcome-event';
import { RecipientUpdateSchema } from './recipient-update';
import { Topics } from './topics';

/** Where the JSON Schema files say they live: `$id` is this plus the file name. */
export const JSON_SCHEMA_BASE_URI = 'https://notify.local/schemas/v1/';

interface JsonSchemaEntry {
  schema: z.ZodType;
  title: string;
  description: string;
}

/**
 * Every Kafka message value and Socket.IO payload that has a zod schema, by JSON Schema file name.
 * A new message schema belongs here; `json-schema.spec.ts` fails for an exported `*Schema` that is
 * neither listed here nor named there as a part of another schema.
 */
const ENTRIES: Record<string, JsonSchemaEntry> = {
  'notification-request.schema.json': {
    schema: NotificationRequestSchema,
    title: 'Notification request',
    description:
      `A record value on \`${Topics.requests}\` (contract section 1), UTF-8 JSON. Not expressible here: ` +
      `the serialized value is at most ${MAX_REQUEST_BYTES} bytes (${MAX_REQUEST_BYTES / 1024} KiB). ` +
      `\`to\` names exactly one recipient selector (\`userIds\`: at most ${MAX_USER_IDS}). ` +
      'An optional field that is null is read as absent, and so is a `sendAt` or `expiresAt` that is 0001-01-01T00:00:00 UTC (Go\'s and .NET\'s zero time). ' +
      'Also checked, and listed in docs/contract.md: no U+0000 or unpaired surrogate in any string, no key named `__proto__`, ' +
      'no integer a double cannot hold exactly, at most 32 levels of nesting, times between the years 1 and 9999 UTC, an `expiresAt` after the `sendAt` when both are given, ' +
      '`sendAt` (with the route\'s fallback delays) within the retention period, links that are http or https URLs, locales with a canonical form, IANA time zones. ' +
      `A request that breaks this schema, is larger, or names an unknown type is copied to \`${Topics.requestsDlq}\`.`,
  },
  'recipient-update.schema.json': {
    schema: RecipientUpdateSchema,
    title: 'Recipient update',
    description:
      `A record value on \`${Topics.recipients}\` (contract section 2), keyed by user id; \`op\` selects the operation. ` +
      'An optional field that is null is read as absent. Not expressible here: an upsert\'s `clear` names no field the upsert also sets; ' +
      'no string holds U+0000 or an unpaired surrogate; a locale has a canonical form and a time zone is an IANA name (docs/contract.md). ' +
      `An invalid update is copied to \`${Topics.recipientsDlq}\`.`,
  },
  'outcome-event.schema.json': {
    schema: OutcomeEventSchema,
    title: 'Outcome event',
    description: `A record value on \`${Topics.events}\` (contract section 3), keyed by user id (by message id when it has no user), written by the platform.`,
  },
  'inbox-message.schema.json': {
    schema: InboxMessageSchema,
    title: 'Inbox message',
    description:
      'A message as a Socket.IO client sees it (contract section 4): the payload of the `notification` event, ' +
      'an element of the `notifications` array and of a `sync` response. `id` is the de-duplication key; ' +
      '`seq` is the receiver\'s inbox sequence number: increasing, numbers of expired or deleted messages skipped.',
  },
  'delivery-job.schema.json': {
    schema: DeliveryJobSchema,
    title: 'Delivery job',
    description:
      `A record value on \`${Object.values(Topics.deliver).join('`, `')}\`: one delivery of one message to one endpoint. ` +
      'Internal to the platform, not part of the public contract.',
  },
  'delivery-batch.schema.json': {
    schema: DeliveryBatchSchema,
    title: 'Delivery batch',
    description:
      `All of one receiver's pending messages on one channel, from the resend poller (internal): on \`${Topics.deliver.websocket}\` ` +
      'emitted to the user\'s browsers as one `notifications` event with one acknowledgement; on the push topic one summary ' +
      'push per device; on the SMS and email topics one digest, for routes that ask for one.',
  },
};

/**
 * JSON Schema (draft 2020-12) of every contract message, by file name, produced from the zod schemas.
 * Input types: what a producer may write (optional fields and defaults stay optional; unknown keys
 * of a non-strict object are allowed, as zod strips them).
 */
export function contractJsonSchemas(): Record<string, object> {
  const result: Record<string, object> = {};
  for (const [file, { schema, title, description }] of Object.entries(ENTRIES)) {
    // Spread into a plain object: zod attaches a non-enumerable `~standard` property to what it returns.
    // A title or description set with zod's `.meta()` gives way to the one above.
    const { $schema, title: _title, description: _description, ...rest } = {
      ...z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }),
    };
    result[file] = { $schema, $id: `${JSON_SCHEMA_BASE_URI}${file}`, title, description, ...rest };
  }
  return result;
}

/** The text of each file under `libs/contracts/json-schema/`: pretty JSON with a trailing newline. */
export function contractJsonSchemaFiles(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(contractJsonSchemas()).map(([file, schema]) => [file, `${JSON.stringify(schema, null, 2)}\n`]),
  );
}
