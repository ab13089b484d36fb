import { ReadRequestSchema, SyncRequestSchema } from './client-requests';

describe('what a browser may send', () => {
  it('reads a sync whose limit is null, as .NET and Jackson write an unset field, as one without', () => {
    expect(SyncRequestSchema.parse({ afterSeq: 12, limit: null })).toEqual({ afterSeq: 12, limit: 100 });
    expect(SyncRequestSchema.parse({ afterSeq: 12 })).toEqual({ afterSeq: 12, limit: 100 });
    expect(SyncRequestSchema.parse({ afterSeq: 12, limit: 3 })).toEqual({ afterSeq: 12, limit: 3 });
  });

  it('ignores a field it does not know, so a client of a later contract still syncs and marks read', () => {
    expect(SyncRequestSchema.parse({ afterSeq: 0, limit: 5, since: 'yesterday' })).toEqual({ afterSeq: 0, limit: 5 });
    const id = '0190a1b2-0000-7000-8000-000000000003';
    expect(ReadRequestSchema.parse({ ids: [id], at: 1 })).toEqual({ ids: [id] });
  });

  it('still refuses a null or missing afterSeq and a limit out of range', () => {
    for (const payload of [{ afterSeq: null }, {}, { afterSeq: 0, limit: 0 }, { afterSeq: 0, limit: 501 }, { afterSeq: 0, limit: 'ten' }]) {
      expect(SyncRequestSchema.safeParse(payload).success).toBe(false);
    }
  });
});
