import type { RecipientProfile } from '@notify/persistence';
import { deliveryJob } from '../delivery/jobs.spec-helper';
import { currentEndpoints } from './current-endpoint';

describe('currentEndpoints', () => {
  const contacts = new Map<string, RecipientProfile>([
    ['u-1', { userId: 'u-1', phone: '+4915100000001', email: 'Ada@Example.com', locale: null }],
    ['u-2', { userId: 'u-2', phone: null, email: null, locale: null }],
  ]);
  const store = { profiles: (userIds: string[]) => Promise.resolve(new Map([...contacts].filter(([userId]) => userIds.includes(userId)))) };
  const sms = (userId: string | null, endpoint: string) => deliveryJob(1, { userId, channel: 'sms', endpoint });
  const email = (userId: string | null, endpoint: string) => deliveryJob(2, { userId, channel: 'email', endpoint });

  it('lets a job go only to the number its user has now', async () => {
    const jobs = [sms('u-1', '+4915100000001'), sms('u-1', '+4915100000009'), sms('u-2', '+4915100000001'), sms('u-3', '+4915100000001')];
    const isCurrent = await currentEndpoints(store, jobs, 'phone');
    expect(jobs.map(isCurrent)).toEqual([true, false, false, false]);
  });

  it('takes an address in other letter cases for the same mailbox, and sends to a bare number or address as it came', async () => {
    const jobs = [email('u-1', 'ada@example.com'), email('u-1', 'bob@example.com'), email(null, 'anyone@example.com')];
    const isCurrent = await currentEndpoints(store, jobs, 'email');
    expect(jobs.map(isCurrent)).toEqual([true, false, true]);
    expect(await currentEndpoints(store, [sms(null, '+4915100000009')], 'phone').then((check) => check(sms(null, '+4915100000009')))).toBe(true);
  });
});
