import { readFileSync } from 'node:fs';
import { ChannelConfigError } from './channel-config-error';

/**
 * A credential given inline (from the environment) or as a file path (a mounted secret).
 * Exactly one of the two must be set; errors name the setting and path, never the content.
 */
export function resolveSecret(channel: string, name: string, inline: string | undefined, file: string | undefined): string {
  if (inline !== undefined && file !== undefined) throw new ChannelConfigError(channel, [`${name} and ${name}File are both set; set one`]);
  if (inline !== undefined) return inline;
  if (file === undefined) throw new ChannelConfigError(channel, [`${name} or ${name}File is required`]);
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ChannelConfigError(channel, [`${name}File ${file} cannot be read (${reason})`]);
  }
  // As an empty inline value counts as none: an empty key would sign Huawei's receipts with ''.
  if (secret === '') throw new ChannelConfigError(channel, [`${name}File ${file} is empty`]);
  return secret;
}
