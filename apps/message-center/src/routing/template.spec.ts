import { LocalizedTemplate } from './template';

/** A template of one body text, compiled for English; fails the test when it does not compile. */
function template(body: string): LocalizedTemplate {
  const compiled = LocalizedTemplate.compile('en', { title: 'Notice', body });
  if (!(compiled instanceof LocalizedTemplate)) throw new Error(`expected "${body}" to compile: ${compiled.problems.join('; ')}`);
  return compiled;
}

/** The error rendering throws; fails the test when it renders. */
function renderError(body: string, data: Record<string, unknown>): Error {
  try {
    const rendered = template(body).render(data);
    throw new Error(`expected a render error, but it rendered "${rendered.body}"`);
  } catch (error) {
    if (error instanceof Error && !error.message.startsWith('expected a render error')) return error;
    throw error;
  }
}

const SHIPPED = 'Order {orderNo} is on its way';
const ITEMS = '{count, plural, one {# item} other {# items}}';

describe('LocalizedTemplate.render', () => {
  describe('refuses a variable whose value does not fit how the template uses it, naming the variable', () => {
    it.each<[string, string, unknown, RegExp]>([
      ['an object as plain text', SHIPPED, { id: 1 }, /variable "orderNo" must be a string or a number/],
      ['an array as plain text', SHIPPED, ['1234'], /variable "orderNo" must be a string or a number/],
      ['true as plain text', SHIPPED, true, /variable "orderNo" must be a string or a number/],
      ['false as plain text', SHIPPED, false, /variable "orderNo" must be a string or a number/],
      ['null as plain text', SHIPPED, null, /variable "orderNo" must be a string or a number/],
      ['a word as a plural count', ITEMS, 'many', /variable "count" must be a number/],
      ['an object as a plural count', ITEMS, {}, /variable "count" must be a number/],
      ['an empty string as a plural count', ITEMS, '', /variable "count" must be a number/],
      ['a word as a number', 'Total {total, number}', 'x', /variable "total" must be a number/],
      ['true as a number', 'Total {total, number}', true, /variable "total" must be a number/],
      ['a number in exponent form as a number', 'Total {total, number}', '1e3', /variable "total" must be a number/],
      ['a word as an ordinal', '{place, selectordinal, one {#st} other {#th}} place', 'first', /variable "place" must be a number/],
      ['null as a select key', '{carrier, select, sf {SF Express} other {a courier}}', null, /variable "carrier" must be a string, a number or a boolean/],
      ['an object as a select key', '{carrier, select, sf {SF Express} other {a courier}}', { name: 'sf' }, /variable "carrier" must be a string, a number or a boolean/],
      ['null as a date', 'Due {due, date, short}', null, /variable "due" must be a time in milliseconds since 1970/],
      ['true as a time', 'At {due, time}', true, /variable "due" must be a time in milliseconds since 1970/],
      ['an ISO date as a date', 'Due {due, date}', '2026-01-01', /variable "due" must be a time in milliseconds since 1970/],
      ['a time past the year 275760', 'Due {due, date}', 9e15, /variable "due" must be a time in milliseconds since 1970/],
    ])('refuses %s', (_case, body, value, expected) => {
      const name = /\{(\w+)/.exec(body)![1]!;
      expect(renderError(body, { [name]: value }).message).toMatch(expected);
    });

    it('checks the variables inside plural and select branches, taken or not', () => {
      const body = '{count, plural, one {{name} sent a gift} other {{name} sent # gifts}} {kind, select, card {by card} other {{via}}}';
      expect(renderError(body, { count: 2, name: { first: 'Ana' }, kind: 'card', via: 'post' }).message).toMatch(/variable "name" must be a string or a number/);
      expect(renderError(body, { count: 2, name: 'Ana', kind: 'card', via: ['post'] }).message).toMatch(/variable "via" must be a string or a number/);
    });

    it('checks the variables between angle brackets, which are text', () => {
      expect(renderError('Order <b>{orderNo}</b>', { orderNo: { id: 1 } }).message).toMatch(/variable "orderNo"/);
    });

    it('checks the title as well as the body', () => {
      const compiled = LocalizedTemplate.compile('en', { title: 'Order {orderNo}', body: 'on its way' }) as LocalizedTemplate;
      expect(() => compiled.render({ orderNo: [1] })).toThrow(/variable "orderNo" must be a string or a number/);
    });

    it('never puts the value in the error, since values can be personal data', () => {
      const error = renderError('Hello {name}', { name: { email: 'ana@example.com' } });
      expect(error.message).not.toContain('ana@example.com');
      expect(error.message).not.toContain('object');
    });
  });

  describe('renders the values that fit', () => {
    it.each<[string, string, Record<string, unknown>, string]>([
      ['a string as plain text', SHIPPED, { orderNo: '1234' }, 'Order 1234 is on its way'],
      ['a number as plain text', SHIPPED, { orderNo: 1234 }, 'Order 1234 is on its way'],
      ['a number as a plural count', ITEMS, { count: 3 }, '3 items'],
      ['a decimal string as a plural count', ITEMS, { count: '1' }, '1 item'],
      ['a decimal string as a number', 'Total {total, number}', { total: '-1234.5' }, 'Total -1,234.5'],
      ['a string select key', '{carrier, select, sf {SF Express} other {a courier}}', { carrier: 'sf' }, 'SF Express'],
      ['a boolean select key', '{vip, select, true {Dear member} other {Hello}}', { vip: true }, 'Dear member'],
      ['a number select key', '{level, select, 1 {Bronze} other {Other}}', { level: 1 }, 'Bronze'],
      ['a time in milliseconds as a date', 'Due {due, date, short}', { due: Date.UTC(2026, 0, 15, 12) }, 'Due 1/15/26'],
      ['a time in milliseconds as a decimal string', 'Due {due, date, short}', { due: String(Date.UTC(2026, 0, 15, 12)) }, 'Due 1/15/26'],
      ['a value only a branch not taken uses', '{count, plural, =0 {no items} other {# items from {shop}}}', { count: 0 }, 'no items'],
    ])('renders %s', (_case, body, data, expected) => {
      expect(template(body).render(data).body).toBe(expected);
    });
  });
});

describe('LocalizedTemplate.compile', () => {
  /** The problems of a template in a locale; fails the test when it compiles. */
  function problemsOf(locale: string, source: { title: string; body: string; url?: string }): string[] {
    const compiled = LocalizedTemplate.compile(locale, source);
    if (compiled instanceof LocalizedTemplate) throw new Error(`expected "${source.body}" not to compile`);
    return compiled.problems;
  }

  describe('refuses an apostrophe after a letter that ICU MessageFormat would read as the start of quoted text', () => {
    it.each<[string, string, RegExp]>([
      ['a French elision before a variable', "Retrait à l'{pickupPoint}", /^body: "l'\{" at character 11: .*write "l''\{" \(two apostrophes\) or "l’\{" in "Retrait à l'\{pickupPoint\}"$/],
      ['an Italian elision before a variable', "Ritiro all'{pickupPoint}", /^body: "l'\{" at character 10: /],
      // In a branch the quote swallows the branch's closing brace, a syntax error, unless another apostrophe ends it first.
      ['an elision before a variable in a plural branch', "{count, plural, one {# colis d'{shop} et l'autre} other {# colis}}", /^body: "d'\{" at character 30: /],
      ['an apostrophe before a closing brace in a select branch', "{kind, select, pickup {à l'} et l'autre} other {chez vous}}", /^body: "l'\}" at character 26: /],
      ['an Italian elision before an angle bracket, which quotes the variable after it', "Clicca sull'<icona> per vedere {orderNo}", /^body: "l'<" at character 11: .*write "l''<" \(two apostrophes\) or "l’<"/],
      ['an apostrophe before # in a plural branch', "{count, plural, one {l'# et l'autre} other {les # colis}}", /^body: "l'#" at character 22: /],
    ])('refuses %s, saying what to write instead', (_case, body, problem) => {
      expect(problemsOf('fr', { title: 'Commande', body })).toEqual([expect.stringMatching(problem)]);
    });

    it('checks the title and the link too', () => {
      expect(problemsOf('fr', { title: "Commande d'{orderNo}", body: 'b', url: "https://shop.example/l'{path}" })).toEqual([
        expect.stringMatching(/^title: "d'\{" at character 10: /),
        expect.stringMatching(/^url: "l'\{" at character 22: /),
      ]);
    });
  });

  describe('takes the apostrophes an author meant', () => {
    it.each<[string, string, Record<string, unknown>, string]>([
      ['two apostrophes before a variable', "Retrait à l''{pickupPoint}", { pickupPoint: 'Gare' }, "Retrait à l'Gare"],
      ['a typographic apostrophe', 'Retrait à l’{pickupPoint}', { pickupPoint: 'Gare' }, 'Retrait à l’Gare'],
      ['braces quoted on purpose after a space', "Write '{name}' for your name, {name}", { name: 'Ana' }, 'Write {name} for your name, Ana'],
      ['braces quoted on purpose at the start', "'{'{name}'}'", { name: 'Ana' }, '{Ana}'],
      ['an apostrophe before a letter', "Commande n'est pas {orderNo}", { orderNo: '7' }, "Commande n'est pas 7"],
      ['an apostrophe before # outside a plural', "l'# {orderNo}", { orderNo: '7' }, "l'# 7"],
      ['an apostrophe before # in a select inside a plural', "{count, plural, other {{kind, select, a {l'#} other {x}}}}", { count: 2, kind: 'a' }, "l'#"],
    ])('takes %s', (_case, body, data, expected) => {
      expect(template(body).render(data).body).toBe(expected);
    });
  });
});

describe('LocalizedTemplate.usesBeyond', () => {
  function compiled(locale: string, title: string, body: string, url?: string): LocalizedTemplate {
    const made = LocalizedTemplate.compile(locale, { title, body, ...(url === undefined ? {} : { url }) });
    if (!(made instanceof LocalizedTemplate)) throw new Error(made.problems.join('; '));
    return made;
  }

  const en = compiled('en', 'Order {orderNo}', '{count, plural, one {# parcel} other {# parcels}} by {carrier, select, sf {SF} other {courier}} at {at, time}');

  it('names each variable the default locale does not use, with its field', () => {
    expect(compiled('de', 'Bestellung {orderNo} für {name}', 'Paket {count}', '{site}/o').usesBeyond(en, 'en')).toEqual([
      'title: uses {name}, which the default locale "en" does not',
      'url: uses {site}, which the default locale "en" does not',
    ]);
  });

  it('names each variable used as a kind fewer values fit than the default locale’s', () => {
    const enPlain = compiled('en', '{orderNo}', '{count} parcels from {shop}');
    expect(compiled('de', '{orderNo, number}', '{count, plural, one {# Paket} other {# Pakete}} von {shop, date}').usesBeyond(enPlain, 'en')).toEqual([
      'title: uses {orderNo} as a number where the default locale "en" uses it as plain text',
      'body: uses {count} as a number where the default locale "en" uses it as plain text',
      'body: uses {shop} as a date or time where the default locale "en" uses it as plain text',
    ]);
    expect(compiled('de', '{orderNo}', '{carrier} {at, number}').usesBeyond(compiled('en', '{orderNo}', '{carrier, select, sf {SF} other {x}} {at}'), 'en')).toEqual([
      'body: uses {carrier} as plain text where the default locale "en" uses it as a select key',
      'body: uses {at} as a number where the default locale "en" uses it as plain text',
    ]);
  });

  it('names a variable the default locale uses only in some branches, where another locale needs it in more cases', () => {
    // With gender "other" and no name, "en" renders and "de" would fail: the request went to the DLQ for everyone.
    const enGreeting = compiled('en', 'Hi', '{gender, select, female {Dear {name}} other {Hello}}');
    expect(compiled('de', 'Hallo', 'Hallo {name}').usesBeyond(enGreeting, 'en')).toEqual([
      'body: uses {name}, which the default locale "en" uses only in some branches of a plural or select',
    ]);
    expect(compiled('de', 'Hallo', '{gender, select, male {Lieber {name}} other {Hallo}}').usesBeyond(enGreeting, 'en')).toEqual([
      'body: uses {name} (in gender=male), which the default locale "en" uses only in some branches of a plural or select',
    ]);
  });

  it('compares plural branches by the numbers that reach them in each language, not by their names', () => {
    // Russian's few, many and other never take 1, where English takes `other`: the sender is there whenever Russian needs it.
    const enMany = compiled('en', 'Hi', '{count, plural, one {One new message} other {# new messages from {sender}}}');
    const ruMany = compiled('ru', 'Привет', '{count, plural, one {# сообщение} few {# сообщения от {sender}} many {# сообщений от {sender}} other {# сообщения от {sender}}}');
    expect(ruMany.usesBeyond(enMany, 'en')).toEqual([]);
    // Russian's `one` takes 21 too, which English renders without the sender; Japanese has only `other`, 1 included.
    const enOne = compiled('en', 'Hi', '{count, plural, one {{sender} sent you a message} other {# new messages}}');
    const ruOne = compiled('ru', 'Привет', '{count, plural, one {{sender} отправил сообщение} few {# сообщения} many {# сообщений} other {# сообщения}}');
    const ja = compiled('ja', 'こんにちは', '{count, plural, other {{sender}から#件}}');
    const someBranches = 'body: uses {sender}, which the default locale "en" uses only in some branches of a plural or select';
    expect(ruOne.usesBeyond(enOne, 'en')).toEqual([someBranches]);
    expect(ja.usesBeyond(enOne, 'en')).toEqual([someBranches]);
    expect(compiled('de', 'Hallo', 'Von {sender}').usesBeyond(enMany, 'en')).toEqual([someBranches]);
  });

  it('compares a branch for an exact number, however large, by that number', () => {
    // "de" renders {name} for 500 points, where "en" needs only {points}: data for "en" failed "de", and the broadcast went to the DLQ.
    const enPoints = compiled('en', 'Points', 'You have {points, number} points');
    const deJackpot = compiled('de', 'Punkte', '{points, plural, =500 {Glückwunsch {name}, 500 Punkte!} other {Sie haben # Punkte}}');
    expect(deJackpot.usesBeyond(enPoints, 'en')).toEqual(['body: uses {name}, which the default locale "en" does not']);
    // The other way round: "en" leaves {name} out at exactly 500, so "de" cannot use it whatever the number.
    const enJackpot = compiled('en', 'Points', '{points, plural, =500 {Jackpot!} other {{name}, # points}}');
    expect(compiled('de', 'Punkte', '{name}: {points} Punkte').usesBeyond(enJackpot, 'en')).toEqual([
      'body: uses {name}, which the default locale "en" uses only in some branches of a plural or select',
    ]);
    // Where "en" has {name} for every number, 500 included, a branch for 500 may use it.
    const enAlways = compiled('en', 'Points', '{points, plural, other {{name}, # points}}');
    expect(compiled('de', 'Punkte', '{points, plural, =500 {Glückwunsch {name}!} other {# Punkte}}').usesBeyond(enAlways, 'en')).toEqual([]);
  });

  it('judges a kind by every use the default locale makes of a variable, rendered or not', () => {
    // Data for "en" must fit `{orderNo, number}` in a branch it may not take: "de" may use it as a number anywhere.
    const en = compiled('en', 'Order {orderNo}', '{express, select, yes {Order {orderNo, number} today} other {Order {orderNo} soon}}');
    expect(compiled('de', 'Bestellung', 'Bestellung {orderNo, number}').usesBeyond(en, 'en')).toEqual([]);
  });

  it('takes a variable another locale uses in the same branches as the default locale, or one every branch of the default’s uses', () => {
    const enGreeting = compiled('en', 'Hi', '{gender, select, female {Dear {name}} other {Hello}}');
    expect(compiled('de', 'Hallo', '{gender, select, female {Liebe {name}} other {Hallo}}').usesBeyond(enGreeting, 'en')).toEqual([]);
    const enShop = compiled('en', 'Hi', '{n, plural, one {# parcel from {shop}} other {# parcels from {shop, number}}}');
    expect(compiled('de', 'Hallo', 'Von {shop}').usesBeyond(enShop, 'en')).toEqual([]);
  });

  it('takes fewer variables, any field, and a kind every value the default locale takes fits', () => {
    // A count the default locale plurals fits plain text; a time fits a number; text fits a select key.
    expect(compiled('zh-CN', '{count} 个包裹', '订单 {orderNo} {carrier, select, sf {顺丰} other {快递}} {at, number}').usesBeyond(en, 'en')).toEqual([]);
    expect(compiled('de', 'Hallo', '').usesBeyond(en, 'en')).toEqual([]);
  });
});
