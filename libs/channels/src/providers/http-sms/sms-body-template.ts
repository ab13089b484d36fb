import type { HttpSmsSettings } from './http-sms-settings';

export interface SmsTemplateValues {
  to: string;
  body: string;
  from: string;
}

const PLACEHOLDER = /\{\{\s*(to|body|from)\s*\}\}/g;

/** Fills the template, escaping each value for the body format so no value can change its structure. */
export function renderSmsBody(settings: Pick<HttpSmsSettings, 'format' | 'bodyTemplate'>, values: SmsTemplateValues): string {
  return settings.bodyTemplate.replace(PLACEHOLDER, (_match, name: keyof SmsTemplateValues) => {
    const value = values[name];
    return settings.format === 'json' ? JSON.stringify(value).slice(1, -1) : encodeURIComponent(value);
  });
}

export function contentTypeOf(format: HttpSmsSettings['format']): string {
  return format === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
}
