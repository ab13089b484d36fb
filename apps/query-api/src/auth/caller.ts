import type { ApiKeyScope } from '@notify/persistence';

/** Who made a call: the API key's name (never the key) and what it may do. */
export interface Caller {
  keyName: string;
  scopes: readonly ApiKeyScope[];
}
