import { createPrivateKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { ProviderError, ProviderErrorCode } from '../../ports';

const ServiceAccountSchema = z.object({
  project_id: z.string().min(1),
  client_email: z.string().min(1),
  private_key: z.string().min(1),
  private_key_id: z.string().optional(),
  token_uri: z.url().default('https://oauth2.googleapis.com/token'),
});

export interface ServiceAccount {
  projectId: string;
  clientEmail: string;
  privateKeyId: string | undefined;
  privateKey: KeyObject;
  tokenUri: string;
}

/** Reads the key file's fields; errors name the bad fields, never the key. */
export function parseServiceAccount(json: string): ServiceAccount {
  let parsed: z.infer<typeof ServiceAccountSchema>;
  try {
    parsed = ServiceAccountSchema.parse(JSON.parse(json));
  } catch (error) {
    const fields = error instanceof z.ZodError ? error.issues.map((issue) => issue.path.join('.')).join(', ') : 'not JSON';
    throw new ProviderError({ provider: 'fcm', code: ProviderErrorCode.BadCredentials, message: `service account key file is unusable: ${fields}` });
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(parsed.private_key);
  } catch {
    throw new ProviderError({ provider: 'fcm', code: ProviderErrorCode.BadCredentials, message: 'service account private_key is not a PEM key' });
  }
  return { projectId: parsed.project_id, clientEmail: parsed.client_email, privateKeyId: parsed.private_key_id, privateKey, tokenUri: parsed.token_uri };
}
