import { NotifyQueryClient } from './notify-query-client';
import type { NotifyQueryError } from './notify-query-error';

/** Arguments the client refuses itself, before anything is sent (no server listens at this address). */
describe('NotifyQueryClient', () => {
  const client = NotifyQueryClient.connect({ address: '127.0.0.1:1', apiKey: 'spec-key-0123456789', timeoutMs: 2_000 });
  afterAll(() => client.close());

  it('refuses an invalid Date as INVALID_ARGUMENT naming the field, which protobuf would have sent as 1970', async () => {
    const refusal = (call: Promise<unknown>) => call.then(() => undefined, (error: NotifyQueryError) => [error.code, error.details]);
    expect(await refusal(client.listMessages({ userId: 'u-1', until: new Date('not a date') }))).toEqual(['INVALID_ARGUMENT', 'until: not a valid date']);
    expect(await refusal(client.getStats({ since: new Date(Number.NaN) }))).toEqual(['INVALID_ARGUMENT', 'since: not a valid date']);
  });
});
