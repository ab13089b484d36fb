import type { SendReceipt } from './channel-provider';
import { ProviderError, ProviderErrorCode, isProviderError } from './provider-error';
import type { PushBatch, PushMessage, PushResult } from './push';

/** `sendMany` for vendors that take one token per request: every token sent at once, limits applied per send. */
export function sendEachToken(provider: string, batch: PushBatch, send: (message: PushMessage) => Promise<SendReceipt>): Promise<PushResult[]> {
  return Promise.all(
    batch.tokens.map((token) =>
      send({ token, content: batch.content }).then(
        (receipt): PushResult => ({ token, receipt }),
        (error: unknown): PushResult => ({ token, error: asProviderError(provider, error) }),
      ),
    ),
  );
}

/** `send` for vendors that take token lists: the one token's receipt, or its error thrown. */
export function receiptOfOnly(provider: string, results: PushResult[]): SendReceipt {
  const [result] = results;
  if (result?.receipt !== undefined) return result.receipt;
  throw result?.error ?? new ProviderError({ provider, code: ProviderErrorCode.Unexpected, message: 'no result for the token' });
}

/** One batch-wide failure becomes every token's result. */
export function failEveryToken(tokens: string[], error: ProviderError): PushResult[] {
  return tokens.map((token) => ({ token, error }));
}

export function asProviderError(provider: string, error: unknown): ProviderError {
  if (isProviderError(error)) return error;
  return new ProviderError({ provider, code: ProviderErrorCode.Unexpected, message: error instanceof Error ? error.message : String(error), cause: error });
}

/** Splits a token list into the vendor's largest accepted batch. */
export function chunk<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}
