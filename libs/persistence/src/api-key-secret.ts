import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'nq_';

/** A new query API key: 256 random bits, prefixed so a leaked key is recognisable in a scan. */
export function generateApiKey(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/** What is stored of a key, and what a presented key is looked up by. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}
