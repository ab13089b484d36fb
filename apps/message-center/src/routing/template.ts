import { IntlMessageFormat } from 'intl-messageformat';

/** A title and body in ICU MessageFormat for one locale, compiled once when the route table loads. */
export class LocalizedTemplate {
  private constructor(
    private readonly title: IntlMessageFormat,
    private readonly body: IntlMessageFormat,
  ) {}

  /** The compiled template, or the problems of each text that is not valid ICU MessageFormat. */
  static compile(locale: string, source: { title: string; body: string }): LocalizedTemplate | { problems: string[] } {
    const problems: string[] = [];
    const compile = (field: 'title' | 'body'): IntlMessageFormat | undefined => {
      try {
        // Notifications are plain text: `<b>` is text, not a rich-text tag whose formatter no request supplies.
        return new IntlMessageFormat(source[field], locale, undefined, { ignoreTag: true });
      } catch (error) {
        const detail = error as { message?: string; location?: { start?: { offset?: number } } };
        const at = detail.location?.start?.offset;
        problems.push(`${field}: ${detail.message ?? String(error)}${at === undefined ? '' : ` at character ${at}`} in "${source[field]}"`);
        return undefined;
      }
    };
    const title = compile('title');
    const body = compile('body');
    return title && body ? new LocalizedTemplate(title, body) : { problems };
  }

  /** Throws when the data lacks a variable the template uses. */
  render(data: Record<string, unknown>): { title: string; body: string } {
    const values = data as Record<string, string | number | boolean | Date | null | undefined>;
    return { title: String(this.title.format(values)), body: String(this.body.format(values)) };
  }
}
