import { migratedDatabase } from '../migrated-database.spec-helper';
import { InboxStore } from './inbox.store';
import { IngestStore, type PlannedMessage } from './ingest.store';
import { plannedDelivery, plannedMessage } from './planned.spec-helper';

const HOUR = 3_600_000;

/** A sync page is what a browser shows: never a message past its expiry, however long it was offline. */
describe('InboxStore.after', () => {
  const database = migratedDatabase();

  /** A message for u-1's inbox, planned an hour ago (before it expired, so it has its inbox entry). */
  const message = (requestId: string, title: string, expiresAt: Date | null): PlannedMessage => {
    const createdAt = new Date(Date.now() - HOUR);
    return plannedMessage(requestId, createdAt, [plannedDelivery(createdAt)], { expiresAt, contents: [{ locale: 'en', title, body: 'b' }] });
  };

  it('leaves out a message past its expiry, pages over the gap it leaves, and reports the last number', async () => {
    await new IngestStore(database.dataSource()).ingest([
      message('r-kept', 'kept', null),
      message('r-expired', 'expired', new Date(Date.now() - 60_000)),
      message('r-later', 'expires later', new Date(Date.now() + HOUR)),
    ]);
    const inbox = new InboxStore(database.dataSource());

    const all = await inbox.after('u-1', 0, 10);
    expect(all).toEqual({ messages: [expect.objectContaining({ seq: 1, title: 'kept' }), expect.objectContaining({ seq: 3, title: 'expires later' })], lastSeq: 3, hasMore: false });

    const first = await inbox.after('u-1', 0, 1);
    expect(first).toEqual({ messages: [expect.objectContaining({ seq: 1 })], lastSeq: 3, hasMore: true });
    const second = await inbox.after('u-1', 1, 1);
    expect(second).toEqual({ messages: [expect.objectContaining({ seq: 3 })], lastSeq: 3, hasMore: false });
    expect(await inbox.after('u-1', 3, 1)).toEqual({ notModified: true, lastSeq: 3 });
  });
});
