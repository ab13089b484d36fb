import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { contractJsonSchemaFiles } from '@notify/contracts';

/**
 * `npm run contracts:json-schema`: writes the JSON Schema of every contract message to
 * `libs/contracts/json-schema/`, and removes schema files no longer produced.
 * `libs/contracts/src/json-schema.spec.ts` fails when the files there are stale.
 */
const root = resolve(__dirname, '..', '..');
const dir = join(root, 'libs', 'contracts', 'json-schema');

const files = contractJsonSchemaFiles();
mkdirSync(dir, { recursive: true });
for (const existing of readdirSync(dir)) {
  if (existing.endsWith('.schema.json') && !(existing in files)) {
    rmSync(join(dir, existing));
    process.stdout.write(`removed ${relative(root, join(dir, existing))}\n`);
  }
}
for (const [name, text] of Object.entries(files)) {
  writeFileSync(join(dir, name), text);
  process.stdout.write(`wrote ${relative(root, join(dir, name))}\n`);
}
