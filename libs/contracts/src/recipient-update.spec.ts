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

describe('RecipientUpdateSchema clear', () => {
  const problems = (update: object) => {
    const parsed = RecipientUpdateSchema.safeParse({ op: 'upsert', userId: 'u-1', ...update });
    return parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it('takes the contact fields to empty, with or without others to set', () => {
    expect(problems({ clear: ['phone', 'email', 'locale', 'timezone'] })).toEqual([]);
    expect(problems({ clear: ['phone'], email: 'a@example.com' })).toEqual([]);
  });

  it('refuses a field it does not know, one listed twice, and one both set and cleared', () => {
    expect(problems({ clear: ['name'] })).toEqual([expect.stringMatching(/^clear\.0: /)]);
    expect(problems({ clear: ['phone', 'phone'] })).toEqual(['clear: lists a field twice']);
    expect(problems({ clear: ['phone'], phone: '+8613800000000' })).toEqual(['clear: both sets and clears phone']);
  });
});
