import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { environmentTable } from './env-table';

describe('README environment table', () => {
  it('is the table generated from the apps’ config schemas (regenerate: node -r @swc-node/register tools/dev/env-table.ts)', () => {
    const readme = readFileSync(resolve(__dirname, '../../README.md'), 'utf8');
    const section = /<!-- environment-table:start -->\n([\s\S]*?)\n<!-- environment-table:end -->/.exec(readme);
    expect(section?.[1]).toBe(environmentTable());
  });
});
