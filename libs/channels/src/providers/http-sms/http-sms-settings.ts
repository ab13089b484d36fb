export interface HttpSmsSettings {
  /** The gateway's send endpoint. */
  url: string;
  /** How the body template's placeholders are escaped and the content type sent. */
  format: 'json' | 'form';
  /**
   * The request body with `{{to}}`, `{{body}}` and `{{from}}` placeholders, e.g.
   * `{"mobile":"{{to}}","text":"{{body}}"}` or `mobile={{to}}&text={{body}}`.
   */
  bodyTemplate: string;
  /** Extra headers such as `Authorization`; their values are credentials and never logged. */
  headers: Record<string, string>;
  from: string;
  /** Dot path of the message id in a JSON answer, e.g. `data.id`; without it an id is made up. */
  messageIdPath?: string;
}
