import { RecipientUpdateSchema } from './recipient-update';

describe('RecipientUpdateSchema timezone', () => {
  const accepts = (timezone: string) => RecipientUpdateSchema.safeParse({ op: 'upsert', userId: 'u-1', timezone }).success;

  it.each(['UTC', 'GMT', 'PRC', 'Singapore', 'EST5EDT', 'Asia/Shanghai', 'Asia/Kolkata', 'America/Argentina/Buenos_Aires', 'America/Port-au-Prince', 'Antarctica/DumontDUrville', 'Etc/GMT-8', 'US/Pacific', 'Europe/Kyiv'])('takes the IANA name %s', (timezone) => {
    expect(accepts(timezone)).toBe(true);
  });

  it.each(['CST', 'IST', 'CTT', 'GMT+8', 'SystemV/PST8', 'asia/shanghai', 'America/chicago', 'Mars/Olympus_Mons', 'Asia/Nowhere'])('refuses %s, which is no IANA name', (timezone) => {
    expect(accepts(timezone)).toBe(false);
  });
});
