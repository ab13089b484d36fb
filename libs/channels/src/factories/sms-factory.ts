import { silentLog, systemClock, type SmsChannelProvider } from '../ports';
import { AliyunSmsProvider } from '../providers/aliyun';
import { HttpSmsProvider } from '../providers/http-sms';
import { LogSmsProvider } from '../providers/log';
import { TwilioProvider } from '../providers/twilio';
import { ChannelConfigError, parseChannelConfig } from './channel-config-error';
import { guardFor, type ChannelDeps } from './channel-deps';
import { resolveLimits } from './limits-config';
import { resolveSecret } from './secret-source';
import { HttpHeadersSchema, SmsDriverSchema, type SmsDriverConfig } from './sms-config';

/** Builds the SMS provider `config.driver` names; credentials are read here, once. */
export function createSmsProvider(config: SmsDriverConfig = { driver: 'log' }, deps: ChannelDeps = {}): SmsChannelProvider {
  const parsed = parseChannelConfig('sms', SmsDriverSchema, config);
  const log = deps.log ?? silentLog;
  const clock = deps.clock ?? systemClock;
  switch (parsed.driver) {
    case 'log':
      return new LogSmsProvider(log, clock);
    case 'twilio':
      return new TwilioProvider(
        {
          baseUrl: parsed.baseUrl,
          accountSid: parsed.accountSid,
          authToken: resolveSecret('sms', 'twilio.authToken', parsed.authToken, parsed.authTokenFile),
          from: parsed.from,
          ...(parsed.statusCallbackUrl === undefined ? {} : { statusCallbackUrl: parsed.statusCallbackUrl }),
        },
        guardFor('twilio', resolveLimits(parsed.limits), deps),
        clock,
        log,
      );
    case 'aliyun':
      return new AliyunSmsProvider(
        {
          baseUrl: parsed.baseUrl,
          accessKeyId: parsed.accessKeyId,
          accessKeySecret: resolveSecret('sms', 'aliyun.accessKeySecret', parsed.accessKeySecret, parsed.accessKeySecretFile),
          regionId: parsed.regionId,
          signName: parsed.signName,
          templateCode: parsed.templateCode,
          bodyParam: parsed.bodyParam,
        },
        guardFor('aliyun', resolveLimits(parsed.limits), deps),
        clock,
        log,
      );
    case 'http':
      return new HttpSmsProvider(
        {
          url: parsed.url,
          format: parsed.format,
          bodyTemplate: parsed.bodyTemplate,
          headers: gatewayHeaders(parsed.headers, parsed.headersFile),
          from: parsed.from,
          ...(parsed.messageIdPath === undefined ? {} : { messageIdPath: parsed.messageIdPath }),
        },
        guardFor('http-sms', resolveLimits(parsed.limits), deps),
        clock,
        log,
      );
  }
}

function gatewayHeaders(inline: Record<string, string> | undefined, file: string | undefined): Record<string, string> {
  if (inline === undefined && file === undefined) return {};
  const text = resolveSecret('sms', 'http.headers', inline === undefined ? undefined : JSON.stringify(inline), file);
  const parsed = HttpHeadersSchema.safeParse(parseJson(text));
  if (!parsed.success) throw new ChannelConfigError('sms', ['http.headersFile must hold a JSON object of header names and string values an HTTP request can carry']);
  return parsed.data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
