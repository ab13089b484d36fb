// The parser intl-messageformat parses with (it pins the version), for the kinds of its parsed elements.
import { TYPE, type MessageFormatElement, type PluralElement } from '@formatjs/icu-messageformat-parser';
import { IntlMessageFormat, type Formatters } from 'intl-messageformat';
import { linkOf } from '@notify/contracts';

/**
 * What a variable must hold, by how a template uses it. The formatter turns anything else into
 * text without complaint (`[object Object]`, `NaN items`, an empty string), so it is checked first.
 */
type ValueKind = 'text' | 'number' | 'key' | 'time';

const EXPECTED: Record<ValueKind, string> = {
  text: 'a string or a number',
  number: 'a number',
  key: 'a string, a number or a boolean',
  time: 'a time in milliseconds since 1970',
};

/**
 * The kinds from the fewest values that fit to the most: each takes every value the kinds before it
 * take (a time is a number, a number is text, text is a select key). A locale may use a variable as
 * a kind later than the default locale's, never earlier: data made for the default would not fit.
 */
const NARROWEST_FIRST: readonly ValueKind[] = ['time', 'number', 'text', 'key'];

const KIND_NAME: Record<ValueKind, string> = {
  text: 'plain text',
  number: 'a number',
  key: 'a select key',
  time: 'a date or time',
};

type Field = 'title' | 'body' | 'url';

/** A variable as a template uses it. */
interface VariableUse {
  name: string;
  kind: ValueKind;
}

/**
 * A variable as a template uses it, and when it is rendered: the select branches it is inside
 * (`gender=female`), and per plural it is inside, the sample numbers (`PLURAL_SAMPLES`) that reach
 * its branch; none of either when it is rendered whatever the data. `depth` is how many branches deep.
 */
interface ConditionalUse extends VariableUse {
  selects: readonly string[];
  plurals: ReadonlyMap<string, ReadonlySet<number>>;
  depth: number;
}

/**
 * Numbers a plural's branches are compared by. Its branches are the language's categories (English
 * one/other; Russian one/few/many/other, where `one` also takes 21), which do not line up between
 * languages, so a branch stands for the numbers that reach it in its own locale. Two templates are
 * compared over these and every exact number either names (`=500`), so that no branch is left out.
 */
const PLURAL_SAMPLES: readonly number[] = [
  ...Array.from({ length: 201 }, (_, n) => n),
  ...[0.5, 1.5, 2.5, 10.5, 100.5, 1_000, 10_000, 100_000, 1_000_000],
];

/** A decimal number written as text ("3", "-1234.5"): producers send counts that way, and they render as the number. */
const DECIMAL = /^-?\d+(\.\d+)?$/;

/** The largest time a JavaScript date (and so the formatter) can hold, in milliseconds either side of 1970. */
const MAX_TIME_MS = 8.64e15;

/** A title, a body and maybe a link in ICU MessageFormat for one locale, compiled once when the route table loads. */
export class LocalizedTemplate {
  private readonly uses: readonly VariableUse[];
  /** The numbers its plurals name exactly (`=500`). */
  private readonly exactNumbers: readonly number[];

  private constructor(
    private readonly locale: string,
    private readonly title: IntlMessageFormat,
    private readonly body: IntlMessageFormat,
    private readonly url: IntlMessageFormat | undefined,
  ) {
    this.exactNumbers = [...this.fields()].flatMap(([, text]) => exactNumbersOf(text.getAst()));
    this.uses = distinct([...this.usesByField(this.exactNumbers).values()].flat().map(({ name, kind }) => ({ name, kind })));
  }

  private *fields(): Generator<[Field, IntlMessageFormat]> {
    yield ['title', this.title];
    yield ['body', this.body];
    if (this.url) yield ['url', this.url];
  }

  /** Each field's variables and when they are rendered, its plurals sampled at `PLURAL_SAMPLES` and `exact`. */
  private usesByField(exact: readonly number[]): Map<Field, ConditionalUse[]> {
    const samples = [...new Set([...PLURAL_SAMPLES, ...exact])];
    const always = { selects: [], plurals: new Map(), depth: 0 };
    return new Map([...this.fields()].map(([field, text]) => [field, conditionalUsesOf(text.getAst(), this.locale, always, samples)]));
  }

  /**
   * The compiled template, or the problems of each text that is not valid ICU MessageFormat. Its
   * dates and times are shown in `timeZone` (an IANA name), else in the process's own.
   */
  static compile(locale: string, source: { title: string; body: string; url?: string }, timeZone?: string): LocalizedTemplate | { problems: string[] } {
    const problems: string[] = [];
    const formatters = timeZone === undefined ? undefined : formattersIn(timeZone);
    const compile = (field: Field, text: string): IntlMessageFormat | undefined => {
      try {
        // Notifications are plain text: `<b>` is text, not a rich-text tag whose formatter no request supplies.
        // Where each text is in the source, for the apostrophes the parser took as quotes.
        const compiled = new IntlMessageFormat(text, locale, undefined, { ignoreTag: true, captureLocation: true, ...(formatters ? { formatters } : {}) });
        const unformattable = [
          ...formatProblems(compiled.getAst(), locale),
          ...elisionProblems(compiled.getAst(), text),
          ...(field === 'url' ? linkProblems(compiled.getAst()) : []),
        ];
        if (unformattable.length === 0) return compiled;
        problems.push(...unformattable.map((problem) => `${field}: ${problem} in "${text}"`));
        return undefined;
      } catch (error) {
        const detail = error as { message?: string; location?: { start?: { offset?: number } } };
        const at = detail.location?.start?.offset;
        problems.push(`${field}: ${detail.message ?? String(error)}${at === undefined ? '' : ` at character ${at}`} in "${text}"`);
        return undefined;
      }
    };
    const title = compile('title', source.title);
    const body = compile('body', source.body);
    const url = source.url === undefined ? undefined : compile('url', source.url);
    return title && body && (source.url === undefined || url) ? new LocalizedTemplate(locale, title, body, url) : { problems };
  }

  /**
   * The variables each text of this template uses that `reference` (the default locale's template)
   * does not, or uses as a kind fewer values fit, as problems starting with the field. The planner
   * renders a request once per locale its recipients need, and a template that fails sends the
   * whole request to the DLQ: data that renders the default locale must render every other one, or
   * one recipient's locale fails a broadcast for everyone. Fewer variables are fine.
   */
  usesBeyond(reference: LocalizedTemplate, referenceLocale: string): string[] {
    const exact = [...this.exactNumbers, ...reference.exactNumbers];
    const referenceUses = [...reference.usesByField(exact).values()].flat();
    const problems = [...this.usesByField(exact)].flatMap(([field, uses]) =>
      uses.flatMap((use): string[] => {
        const { name, kind } = use;
        const named = referenceUses.filter((reference) => reference.name === name);
        if (named.length === 0) return [`${field}: uses {${name}}, which the default locale "${referenceLocale}" does not`];
        if (!covered(use, named)) {
          const where = use.selects.length === 0 ? '' : ` (in ${use.selects.join(', ')})`;
          return [`${field}: uses {${name}}${where}, which the default locale "${referenceLocale}" uses only in some branches of a plural or select`];
        }
        // Data made for the default fits every use it makes of the name, taken or not (`render`): the narrowest.
        const referenceKind = NARROWEST_FIRST.find((narrowest) => named.some((reference) => reference.kind === narrowest))!;
        if (NARROWEST_FIRST.indexOf(kind) >= NARROWEST_FIRST.indexOf(referenceKind)) return [];
        return [`${field}: uses {${name}} as ${KIND_NAME[kind]} where the default locale "${referenceLocale}" uses it as ${KIND_NAME[referenceKind]}`];
      }),
    );
    return [...new Set(problems)];
  }

  /**
   * Throws when the data lacks a variable the template uses, or holds one it cannot render as the
   * template uses it. The error names the variable, never the value: values can be personal data.
   */
  render(data: Record<string, unknown>): { title: string; body: string; url?: string } {
    for (const { name, kind } of this.uses) {
      // A variable the data lacks is the formatter's to report, and only when a branch it renders uses it.
      if (Object.hasOwn(data, name) && !fits(data[name], kind)) throw new Error(`variable "${name}" must be ${EXPECTED[kind]}`);
    }
    const values = data as Record<string, string | number | boolean | null | undefined>;
    const rendered = { title: String(this.title.format(values)), body: String(this.body.format(values)) };
    return this.url ? { ...rendered, url: String(this.url.format(values)) } : rendered;
  }
}

/** The formatters of the templates shown in one time zone, by zone: each makes an `Intl` formatter once per locale and options. */
const FORMATTERS_BY_ZONE = new Map<string, Formatters>();

/**
 * Formatters that show dates and times in `timeZone`. A date element's own options (a skeleton such
 * as `::yyyyMMdd HH:mm`, or none) carry no zone, so the zone is added to every date and time format
 * made, not only to the named styles.
 */
function formattersIn(timeZone: string): Formatters {
  const known = FORMATTERS_BY_ZONE.get(timeZone);
  if (known) return known;
  const made = new Map<string, Intl.NumberFormat | Intl.DateTimeFormat | Intl.PluralRules>();
  const once = <T extends Intl.NumberFormat | Intl.DateTimeFormat | Intl.PluralRules>(kind: string, args: unknown[], make: () => T): T => {
    const key = `${kind}${JSON.stringify(args)}`;
    let formatter = made.get(key);
    if (!formatter) made.set(key, (formatter = make()));
    return formatter as T;
  };
  const formatters: Formatters = {
    getNumberFormat: (locales, options) => once('number', [locales, options], () => new Intl.NumberFormat(locales, options)),
    getDateTimeFormat: (locales, options) => once('date', [locales, options], () => new Intl.DateTimeFormat(locales, { ...options, timeZone })),
    getPluralRules: (locales, options) => once('plural', [locales, options], () => new Intl.PluralRules(locales, options)),
  };
  FORMATTERS_BY_ZONE.set(timeZone, formatters);
  return formatters;
}

/**
 * The number, date and time formats of a message, in every branch, that cannot format anything: a
 * skeleton or style is only handed to `Intl` when a value is formatted (`::currency/YUAN`,
 * `::unit/hours`, `{n, number, currency}` without a currency), so each is tried once here, at load,
 * instead of failing every request of the route.
 */
function formatProblems(elements: readonly MessageFormatElement[], locale: string): string[] {
  return elements.flatMap((element): string[] => {
    switch (element.type) {
      case TYPE.number:
      case TYPE.date:
      case TYPE.time: {
        // A style name the library does not know (`{at, time, HH:mm}`, a Java pattern; `{at, date, shrot}`)
        // formats with no options at all, a date where a time was meant, without an error.
        const named = IntlMessageFormat.formats[element.type === TYPE.number ? 'number' : element.type === TYPE.date ? 'date' : 'time'];
        if (typeof element.style === 'string' && !Object.hasOwn(named, element.style)) {
          return [`the style "${element.style}" of {${element.value}} is not one of ${Object.keys(named).join(', ')}; for another format write a skeleton, e.g. {${element.value}, ${element.type === TYPE.number ? 'number, ::percent' : 'time, ::HHmm'}}`];
        }
        try {
          new IntlMessageFormat([element], locale).format({ [element.value]: 0 });
          return [];
        } catch (error) {
          return [`the format of {${element.value}} cannot be used: ${error instanceof Error ? error.message : String(error)}`];
        }
      }
      case TYPE.plural:
      case TYPE.select:
        return Object.values(element.options).flatMap((option) => formatProblems(option.value, locale));
      case TYPE.tag:
        return formatProblems(element.children, locale);
      case TYPE.literal:
      case TYPE.pound:
      case TYPE.argument:
        return [];
    }
  });
}

/**
 * ICU MessageFormat reads an apostrophe right before `{`, `}`, `<` or `>` (and `#` in a plural's
 * branch) as the start of quoted text, up to the next apostrophe (`<` and `>` too, though tags are
 * read as text here: `sull'<icona> {x}` shows `sull<icona> {x}`): `à l'{pickupPoint}` shows "à l{pickupPoint}", the
 * apostrophe dropped and the variable never filled in, without an error. After a letter that is an
 * elision (French, Italian, Catalan), not quoting meant on purpose (which starts after a space or at
 * the start: `'{literal}'`), so it is refused with what to write instead. The parser's own rule
 * (tryParseQuote) is followed: `#` is quoted only where it would be a plural's number.
 */
function elisionProblems(elements: readonly MessageFormatElement[], text: string, inPlural = false): string[] {
  return elements.flatMap((element): string[] => {
    switch (element.type) {
      case TYPE.literal: {
        if (!element.location) return [];
        const { offset } = element.location.start;
        const source = text.slice(offset, element.location.end.offset);
        const quoting = inPlural ? /[\p{L}\p{M}]'[{}#<>]/gu : /[\p{L}\p{M}]'[{}<>]/gu;
        return [...source.matchAll(quoting)].map((match) => {
          const [letter, , after] = [...match[0]];
          const at = offset + match.index + letter!.length;
          return `"${letter}'${after}" at character ${at}: an apostrophe before ${after} starts quoted text, which drops the apostrophe and shows what follows as written; write "${letter}''${after}" (two apostrophes) or "${letter}’${after}"`;
        });
      }
      case TYPE.plural:
        return Object.values(element.options).flatMap((option) => elisionProblems(option.value, text, true));
      case TYPE.select:
        return Object.values(element.options).flatMap((option) => elisionProblems(option.value, text, false));
      case TYPE.tag:
        return elisionProblems(element.children, text, inPlural);
      case TYPE.pound:
      case TYPE.argument:
      case TYPE.number:
      case TYPE.date:
      case TYPE.time:
        return [];
    }
  });
}


/**
 * Every variable a message uses, in every branch of its plurals and selects (whether the data takes
 * that branch or not), with when it is rendered (`ConditionalUse`). A variable every branch the data
 * can take uses, unconditionally within it, is counted as used outside them too (`{n, plural, one
 * {# from {shop}} other {# from {shop}}}` always needs `shop`), as its widest kind of those branches.
 * A plural's branch no number reaches (English `few`) is left out: it is never rendered.
 */
function conditionalUsesOf(elements: readonly MessageFormatElement[], locale: string, at: Omit<ConditionalUse, 'name' | 'kind'>, samples: readonly number[]): ConditionalUse[] {
  return elements.flatMap((element): ConditionalUse[] => {
    switch (element.type) {
      case TYPE.literal:
      case TYPE.pound:
        return [];
      case TYPE.argument:
        return [{ name: element.value, kind: 'text', ...at }];
      case TYPE.number:
        return [{ name: element.value, kind: 'number', ...at }];
      case TYPE.date:
      case TYPE.time:
        return [{ name: element.value, kind: 'time', ...at }];
      case TYPE.plural:
      case TYPE.select: {
        const selector: ConditionalUse = { name: element.value, kind: element.type === TYPE.plural ? 'number' : 'key', ...at };
        const reached = element.type === TYPE.plural ? pluralBranches(element, locale, samples) : undefined;
        const branches = Object.entries(element.options).flatMap(([key, option]) => {
          if (reached === undefined) return [conditionalUsesOf(option.value, locale, { ...at, selects: [...at.selects, `${element.value}=${key}`], depth: at.depth + 1 }, samples)];
          const numbers = reached.get(key);
          if (numbers === undefined) return [];
          const within = at.plurals.get(element.value);
          const narrowed = within ? new Set([...numbers].filter((n) => within.has(n))) : numbers;
          return [conditionalUsesOf(option.value, locale, { ...at, plurals: new Map([...at.plurals, [element.value, narrowed]]), depth: at.depth + 1 }, samples)];
        });
        const always = (branch: ConditionalUse[]) => branch.filter((use) => use.depth === at.depth + 1);
        const inEvery = [...new Set(always(branches[0] ?? []).map((use) => use.name))].filter((name) => branches.every((branch) => always(branch).some((use) => use.name === name)));
        const widest = (name: string): ValueKind =>
          branches
            .map((branch) => NARROWEST_FIRST.find((kind) => always(branch).some((use) => use.name === name && use.kind === kind))!)
            .reduce((a, b) => (NARROWEST_FIRST.indexOf(a) >= NARROWEST_FIRST.indexOf(b) ? a : b));
        return [selector, ...branches.flat(), ...inEvery.map((name) => ({ name, kind: widest(name), ...at }))];
      }
      case TYPE.tag:
        return conditionalUsesOf(element.children, locale, at, samples);
    }
  });
}

/**
 * Which of `samples` reach each branch of a plural in `locale`, as intl-messageformat picks it: an
 * exact `=N` first, else the category of the number less the offset, else `other`.
 */
function pluralBranches(element: PluralElement, locale: string, samples: readonly number[]): Map<string, Set<number>> {
  const rules = new Intl.PluralRules(locale, { type: element.pluralType });
  const reached = new Map<string, Set<number>>();
  for (const n of samples) {
    const exact = `=${n}`;
    const key = exact in element.options ? exact : rules.select(n - element.offset) in element.options ? rules.select(n - element.offset) : 'other';
    if (!(key in element.options)) continue;
    reached.set(key, (reached.get(key) ?? new Set()).add(n));
  }
  return reached;
}

/** The numbers the plurals among `elements` name exactly (`=500`, `=-1`), at any depth. */
function exactNumbersOf(elements: readonly MessageFormatElement[]): number[] {
  return elements.flatMap((element) => {
    if (element.type === TYPE.tag) return exactNumbersOf(element.children);
    if (element.type !== TYPE.plural && element.type !== TYPE.select) return [];
    return Object.entries(element.options).flatMap(([key, option]) => {
      const exact = element.type === TYPE.plural && key.startsWith('=') ? [Number(key.slice(1))].filter(Number.isFinite) : [];
      return [...exact, ...exactNumbersOf(option.value)];
    });
  });
}

/**
 * Whether the default locale's uses of a name (`named`) hold it whenever `use` is rendered: one of
 * them in no branch, or in select branches `use` is in too and plural branches that together take
 * every number that reaches `use` (per plural; uses under several plurals at once are compared whole).
 */
function covered(use: ConditionalUse, named: readonly ConditionalUse[]): boolean {
  const applicable = named.filter((reference) => reference.selects.every((branch) => use.selects.includes(branch)) && [...reference.plurals.keys()].every((plural) => use.plurals.has(plural)));
  if (applicable.some((reference) => reference.plurals.size === 0)) return true;
  return [...use.plurals].some(([plural, numbers]) => {
    const taken = new Set(applicable.filter((reference) => reference.plurals.size === 1 && reference.plurals.has(plural)).flatMap((reference) => [...reference.plurals.get(plural)!]));
    return [...numbers].every((n) => taken.has(n));
  });
}

function distinct(uses: VariableUse[]): VariableUse[] {
  return [...new Map(uses.map((use) => [`${use.kind} ${use.name}`, use])).values()];
}

function fits(value: unknown, kind: ValueKind): boolean {
  switch (kind) {
    case 'text':
      return typeof value === 'string' || isFiniteNumber(value);
    case 'number':
      return isNumeric(value);
    // A select picks the branch named by the value's text: `true {…}`, `1 {…}`.
    case 'key':
      return typeof value === 'string' || typeof value === 'boolean' || isFiniteNumber(value);
    // The formatter reads any other value as a number of milliseconds too: null is 1970, a date string fails.
    case 'time':
      return isNumeric(value) && Math.abs(Number(value)) <= MAX_TIME_MS;
  }
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isNumeric(value: unknown): boolean {
  return isFiniteNumber(value) || (typeof value === 'string' && DECIMAL.test(value));
}

/**
 * Why a `url` template can never render to an http or https link, if it cannot: its fixed text alone
 * is no link, or its fixed start (`/orders/{orderNo}`, `shop.example/{path}`) cannot begin one. Such a
 * template sends every request of its type to the DLQ, so the route table refuses it at start.
 */
function linkProblems(ast: MessageFormatElement[]): string[] {
  const firstVariable = ast.findIndex((element) => element.type !== TYPE.literal);
  const literal = (elements: MessageFormatElement[]) => elements.map((element) => (element.type === TYPE.literal ? element.value : '')).join('');
  if (firstVariable === -1) {
    return linkOf(literal(ast)) === undefined ? ['not an http or https URL of at most 2048 characters'] : [];
  }
  const start = literal(ast.slice(0, firstVariable)).trimStart().toLowerCase();
  const canBegin = ['http://', 'https://'].some((scheme) => start.startsWith(scheme) || scheme.startsWith(start));
  return canBegin ? [] : [`cannot begin an http or https URL with "${start}"`];
}

