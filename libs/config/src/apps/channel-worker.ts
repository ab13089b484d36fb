import { z } from 'zod';
import { loadConfig, setting, type ConfigOf, type CrossCheck } from '../setting';
import { clickComplete, clickSettings, databaseSettings, kafkaSettings, logSettings, saslComplete } from '../shared';
import { atLeastMs, bool, list, milliseconds, port, positiveInt } from '../types';

export const WORKER_CHANNELS = ['push', 'sms', 'email'] as const;
export type WorkerChannel = (typeof WORKER_CHANNELS)[number];

const text = () => z.string().min(1).optional();

/**
 * A mail's sender: an address, bare or after a display name with it in angle brackets at the end (a
 * quoted name may hold brackets of its own). Without one, nodemailer sent mail with no From header
 * and a null envelope sender (`MAIL FROM:<>`), which large receivers refuse and to which no bounce
 * can come back. Any `local@domain` is taken, as relays take them: `noreply@localhost`, `ops@bücher.example`.
 */
const BRACKETED = /<([^<>]*)>\s*$/;
const ADDRESS = /^[^\s@<>"]+@[^\s@<>"]+$/;
const senderAddress = () =>
  text().refine(
    (value) => value === undefined || ADDRESS.test(BRACKETED.exec(value)?.[1] ?? value.trim()),
    'must be an email address (notify@example.com), or a display name and one in angle brackets (Notify <notify@example.com>)',
  );
/** An http or https URL: `host:8080/send`, its scheme forgotten, reads as a URL of scheme `host`. */
const httpUrl = () => z.url({ protocol: /^https?$/, error: 'an http or https URL' });
const url = (fallback?: string) => (fallback === undefined ? httpUrl().optional() : httpUrl().default(fallback));

/** A JSON value in one variable, checked against `schema`. */
const json = <S extends z.ZodType>(schema: S) =>
  z
    .string()
    .optional()
    .transform((value, context) => {
      if (value === undefined) return undefined;
      try {
        return JSON.parse(value) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema.optional());

/**
 * The longest a provider call may wait for its answer, or for its rate slot: together within the 10
 * minutes a send's claim is leased for, past which it is taken for lost and sent again.
 */
const MAX_PROVIDER_WAIT_MS = 300_000;

/** A provider wait of at least `min` ms; its problem names the field, as the variable holds several. */
const providerMs = (field: string, min: number) => z.number().int().min(min, `${field}: ${atLeastMs(min)}`);

/**
 * Overrides of one provider's safety limits, e.g. `{"concurrency":50,"ratePerSecond":20}`; the
 * adapters' defaults apply to the rest.
 */
const limits = () =>
  json(
    z
      .strictObject({
        // Within a send's lease (10 minutes) with room for a rate wait, and a timer's reach. At least a
        // second: no vendor answers within a few milliseconds, and every call timed out.
        timeoutMs: providerMs('timeoutMs', 1_000).max(MAX_PROVIDER_WAIT_MS),
        concurrency: z.number().int().positive(),
        queue: z.number().int().nonnegative(),
        ratePerSecond: z.number().positive(),
        burst: z.number().int().positive(),
        maxRateWaitMs: z.number().int().nonnegative().max(MAX_PROVIDER_WAIT_MS),
        breakerFailures: z.number().int().positive(),
        // At least a second: a shorter pause tries a vendor in an outage again at once, which the breaker is there to spare.
        breakerHalfOpenAfterMs: providerMs('breakerHalfOpenAfterMs', 1_000),
      })
      .partial(),
  );

/** `host`, `host:port` or `[v6 address]:port`, read into its parts; the port falls back to `defaultPort`. */
const serverAddress = (defaultPort: number) =>
  z
    .string()
    .optional()
    .transform((value, context) => {
      if (value === undefined) return undefined;
      const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(value.trim());
      const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
      if (match === null || port < 1 || port > 65535) {
        context.addIssue({ code: 'custom', message: 'must be host or host:port' });
        return z.NEVER;
      }
      return { host: (match[1] ?? match[2])!, port };
    });

/** The broker's default max.message.bytes: a fetch of a partition must take any record the platform writes. */
const MIN_BATCH_BYTES = 1024 * 1024;

const LIMITS_HELP = 'JSON overrides of the provider limits, per worker process, e.g. {"concurrency":50,"ratePerSecond":20}';

const workerSettings = {
  httpPort: setting('CHANNEL_WORKER_PORT', port(3003), 'HTTP port of the channel worker (health, metrics)'),
  channels: setting(
    'CHANNEL_WORKER_CHANNELS',
    list(WORKER_CHANNELS.join(','))
      .pipe(z.array(z.enum(WORKER_CHANNELS)).min(1, 'at least one channel'))
      .transform((channels) => [...new Set(channels)]),
    'Channels this process consumes: any of push, sms, email',
  ),
  pushGroup: setting('CHANNEL_WORKER_PUSH_GROUP', z.string().min(1).default('notify.channel-worker.push'), 'Kafka consumer group of the push workers'),
  smsGroup: setting('CHANNEL_WORKER_SMS_GROUP', z.string().min(1).default('notify.channel-worker.sms'), 'Kafka consumer group of the SMS workers'),
  emailGroup: setting('CHANNEL_WORKER_EMAIL_GROUP', z.string().min(1).default('notify.channel-worker.email'), 'Kafka consumer group of the email workers'),
  concurrency: setting('CHANNEL_WORKER_CONCURRENCY', positiveInt(200), 'Endpoints each channel sends to at once, across its partitions (push: per vendor)'),
  maxBatchBytes: setting(
    'CHANNEL_WORKER_MAX_BATCH_BYTES',
    // At least the broker's default max.message.bytes: the platform writes records to the deliver
    // topics of up to about 580 KiB (a resend batch, an email job), and the broker hands over a record
    // batch larger than this limit only for the first partition of a fetch that has one (KIP-74).
    // kafkajs lists a broker's partitions in a fixed order, so with 256 KiB a partition whose next
    // record was larger waited behind a busy partition on the same broker, for as long as it was busy.
    z.coerce.number().int().min(MIN_BATCH_BYTES, `at least ${MIN_BATCH_BYTES} (1 MiB, the broker's default max.message.bytes)`).default(MIN_BATCH_BYTES),
    "Largest fetch per partition, in bytes; at least 1048576 (1 MiB, the broker's default max.message.bytes), below which a partition whose next record is larger can wait behind a busy one",
  ),
  configurationRetryMs: setting(
    'CHANNEL_WORKER_CONFIGURATION_RETRY_MS',
    // A day at most, the longest any wait before a re-send is (a vendor's Retry-After included); a second
    // at least: shorter, every delivery of a misconfigured provider is re-sent at each poll, to fail again.
    milliseconds(1_000).max(86_400_000, 'at most 86400000 (a day)').default(3_600_000),
    'Wait before re-sending a delivery that failed on provider configuration (bad credentials, wrong topic); at least a second, at most a day',
  ),
  receiptsToken: setting(
    'CHANNEL_WORKER_RECEIPTS_TOKEN',
    z.string().min(16, 'at least 16 characters').optional(),
    "Secret that Aliyun, Mi Push, bounce and Huawei (unless PUSH_HMS_RECEIPT_USER_NAME is set) receipt URLs carry (/receipts/<provider>?token=…), and that keys each mail's Message-ID, which bounces name it by (a change applies to the mails sent after it); without it their receipts are not taken",
    { sensitive: true },
  ),
};

const pushSettings = {
  apnsDriver: setting('PUSH_APNS_DRIVER', z.enum(['log', 'apns']).default('log'), 'Driver for apns devices: log, or apns (Apple)'),
  apnsBaseUrl: setting('PUSH_APNS_BASE_URL', url('https://api.push.apple.com'), 'APNs provider API; https://api.sandbox.push.apple.com for development builds'),
  apnsTeamId: setting('PUSH_APNS_TEAM_ID', text(), 'Apple developer team id (iss of the provider token)'),
  apnsKeyId: setting('PUSH_APNS_KEY_ID', text(), 'Id of the APNs signing key (kid of the provider token)'),
  apnsTopic: setting('PUSH_APNS_TOPIC', text(), 'The app bundle id (apns-topic)'),
  apnsSigningKey: setting('PUSH_APNS_SIGNING_KEY', text(), 'The .p8 signing key, PEM text', { sensitive: true }),
  apnsSigningKeyFile: setting('PUSH_APNS_SIGNING_KEY_FILE', text(), 'File holding the .p8 signing key'),
  apnsLimits: setting('PUSH_APNS_LIMITS', limits(), LIMITS_HELP),
  fcmDriver: setting('PUSH_FCM_DRIVER', z.enum(['log', 'fcm']).default('log'), 'Driver for fcm devices: log, or fcm (Firebase HTTP v1)'),
  fcmBaseUrl: setting('PUSH_FCM_BASE_URL', url('https://fcm.googleapis.com'), 'FCM HTTP v1 API'),
  fcmTokenUrl: setting('PUSH_FCM_TOKEN_URL', url(), "OAuth token endpoint; default: the service account's token_uri"),
  fcmServiceAccountJson: setting('PUSH_FCM_SERVICE_ACCOUNT_JSON', text(), 'Firebase service account key, JSON text', { sensitive: true }),
  fcmServiceAccountFile: setting('PUSH_FCM_SERVICE_ACCOUNT_FILE', text(), 'File holding the Firebase service account key'),
  fcmLimits: setting('PUSH_FCM_LIMITS', limits(), LIMITS_HELP),
  hmsDriver: setting('PUSH_HMS_DRIVER', z.enum(['log', 'hms']).default('log'), 'Driver for hms devices: log, or hms (Huawei Push Kit)'),
  hmsBaseUrl: setting('PUSH_HMS_BASE_URL', url('https://push-api.cloud.huawei.com'), 'Huawei Push Kit API'),
  hmsTokenUrl: setting('PUSH_HMS_TOKEN_URL', url('https://oauth-login.cloud.huawei.com/oauth2/v3/token'), 'Huawei OAuth token endpoint'),
  hmsAppId: setting('PUSH_HMS_APP_ID', text(), 'Huawei app id'),
  hmsAppSecret: setting('PUSH_HMS_APP_SECRET', text(), 'Huawei app secret', { sensitive: true }),
  hmsAppSecretFile: setting('PUSH_HMS_APP_SECRET_FILE', text(), 'File holding the Huawei app secret'),
  hmsReceiptUserName: setting(
    'PUSH_HMS_RECEIPT_USER_NAME',
    text(),
    "Callback user name of AppGallery Connect's receipt settings; with PUSH_HMS_RECEIPT_KEY, only receipts Push Kit signed are taken (no URL token)",
  ),
  hmsReceiptKey: setting('PUSH_HMS_RECEIPT_KEY', text(), "Callback key of AppGallery Connect's receipt settings, which signs Push Kit's receipts", { sensitive: true }),
  hmsReceiptKeyFile: setting('PUSH_HMS_RECEIPT_KEY_FILE', text(), 'File holding the Huawei receipt callback key'),
  hmsCategory: setting(
    'PUSH_HMS_CATEGORY',
    text(),
    "Category Huawei granted the app's messages by self-classification (IM, ACCOUNT, EXPRESS, FINANCE, WORK, … as Push Kit names them), sent with every push; without one, EMUI 10 and later in China show them as marketing, a few a day",
  ),
  hmsLimits: setting('PUSH_HMS_LIMITS', limits(), LIMITS_HELP),
  xiaomiDriver: setting('PUSH_XIAOMI_DRIVER', z.enum(['log', 'xiaomi']).default('log'), 'Driver for xiaomi devices: log, or xiaomi (Mi Push)'),
  xiaomiBaseUrl: setting('PUSH_XIAOMI_BASE_URL', url('https://api.xmpush.xiaomi.com'), 'Mi Push server API'),
  xiaomiPackageName: setting('PUSH_XIAOMI_PACKAGE_NAME', text(), 'Android package name of the app'),
  xiaomiChannelId: setting(
    'PUSH_XIAOMI_CHANNEL_ID',
    text(),
    "Mi Push channel id for the pushes (the app's private-message channel); without one Mi Push shows one notification per device a day",
  ),
  xiaomiReceiptUrl: setting(
    'PUSH_XIAOMI_RECEIPT_URL',
    url(),
    "Public URL of the channel worker's /receipts/xiaomi?token=<CHANNEL_WORKER_RECEIPTS_TOKEN>, named in each push for Mi Push's receipts (at most 128 bytes); unset: none asked",
  ),
  xiaomiAppSecret: setting('PUSH_XIAOMI_APP_SECRET', text(), 'Mi Push app secret', { sensitive: true }),
  xiaomiAppSecretFile: setting('PUSH_XIAOMI_APP_SECRET_FILE', text(), 'File holding the Mi Push app secret'),
  xiaomiLimits: setting('PUSH_XIAOMI_LIMITS', limits(), LIMITS_HELP),
};

const smsSettings = {
  smsDriver: setting('SMS_DRIVER', z.enum(['log', 'twilio', 'aliyun', 'http']).default('log'), 'SMS driver: log, twilio, aliyun or http (a generic gateway)'),
  smsLimits: setting('SMS_LIMITS', limits(), LIMITS_HELP),
  twilioBaseUrl: setting('SMS_TWILIO_BASE_URL', url('https://api.twilio.com'), 'Twilio REST API'),
  twilioAccountSid: setting('SMS_TWILIO_ACCOUNT_SID', text(), 'Twilio account SID'),
  twilioAuthToken: setting('SMS_TWILIO_AUTH_TOKEN', text(), 'Twilio auth token', { sensitive: true }),
  twilioAuthTokenFile: setting('SMS_TWILIO_AUTH_TOKEN_FILE', text(), 'File holding the Twilio auth token'),
  twilioFrom: setting('SMS_TWILIO_FROM', text(), 'Sender: an E.164 number or a messaging service SID'),
  twilioStatusCallbackUrl: setting(
    'SMS_TWILIO_STATUS_CALLBACK_URL',
    // Twilio refuses a host with an underscore (error 21609), and with it every message.
    httpUrl()
      .refine((value) => !URL.canParse(value) || !new URL(value).hostname.includes('_'), 'a host without underscores (Twilio refuses them)')
      .optional(),
    'URL Twilio posts delivery receipts to',
  ),
  aliyunBaseUrl: setting('SMS_ALIYUN_BASE_URL', url('https://dysmsapi.aliyuncs.com'), 'Aliyun SMS API'),
  aliyunAccessKeyId: setting('SMS_ALIYUN_ACCESS_KEY_ID', text(), 'Aliyun AccessKey id'),
  aliyunAccessKeySecret: setting('SMS_ALIYUN_ACCESS_KEY_SECRET', text(), 'Aliyun AccessKey secret', { sensitive: true }),
  aliyunAccessKeySecretFile: setting('SMS_ALIYUN_ACCESS_KEY_SECRET_FILE', text(), 'File holding the Aliyun AccessKey secret'),
  aliyunRegionId: setting('SMS_ALIYUN_REGION_ID', z.string().min(1).default('cn-hangzhou'), 'Aliyun region'),
  aliyunSignName: setting('SMS_ALIYUN_SIGN_NAME', text(), 'Approved SMS signature'),
  aliyunTemplateCode: setting('SMS_ALIYUN_TEMPLATE_CODE', text(), 'Approved template that carries the text'),
  aliyunBodyParam: setting('SMS_ALIYUN_BODY_PARAM', z.string().min(1).default('content'), 'Template parameter that receives the text'),
  httpSmsUrl: setting('SMS_HTTP_URL', url(), 'Generic SMS gateway URL'),
  httpSmsFormat: setting('SMS_HTTP_FORMAT', z.enum(['json', 'form']).default('json'), 'Body format of the generic gateway: json or form'),
  httpSmsBodyTemplate: setting('SMS_HTTP_BODY_TEMPLATE', text(), 'Request body with {{to}}, {{body}} and {{from}} placeholders'),
  httpSmsHeaders: setting('SMS_HTTP_HEADERS', json(z.record(z.string(), z.string())), 'JSON object of headers (credentials) for the generic gateway', { sensitive: true }),
  httpSmsHeadersFile: setting('SMS_HTTP_HEADERS_FILE', text(), 'File holding the JSON object of headers'),
  httpSmsFrom: setting('SMS_HTTP_FROM', z.string().default(''), 'Sender for the {{from}} placeholder'),
  httpSmsMessageIdPath: setting('SMS_HTTP_MESSAGE_ID_PATH', text(), "Dotted path of the message id in the gateway's JSON answer"),
};

const emailSettings = {
  emailDriver: setting('EMAIL_DRIVER', z.enum(['log', 'smtp']).default('log'), 'Email driver: log or smtp'),
  emailLimits: setting('EMAIL_LIMITS', limits(), LIMITS_HELP),
  // The port rides in SMTP_HOST: a `*_PORT` variable names a port the app listens on (compose publishes those).
  smtpServer: setting('SMTP_HOST', serverAddress(587), 'SMTP server as host or host:port ([v6]:port); port 587 when omitted'),
  smtpSecure: setting('SMTP_SECURE', bool(false), 'TLS from the first byte (port 465); otherwise STARTTLS when offered'),
  smtpRequireTls: setting('SMTP_REQUIRE_TLS', bool(false), 'Refuse to send unless the server offers STARTTLS'),
  smtpUser: setting('SMTP_USER', text(), 'SMTP user; unset for no authentication'),
  smtpPassword: setting('SMTP_PASSWORD', text(), 'SMTP password', { sensitive: true }),
  smtpPasswordFile: setting('SMTP_PASSWORD_FILE', text(), 'File holding the SMTP password'),
  smtpFrom: setting('SMTP_FROM', senderAddress(), 'Sender address, optionally after a display name: notify@example.com, or Notify <notify@example.com>'),
  smtpMaxConnections: setting('SMTP_MAX_CONNECTIONS', positiveInt(5), 'Pooled SMTP connections, per worker process'),
  smtpAllowInvalidCertificates: setting('SMTP_ALLOW_INVALID_CERTIFICATES', bool(false), "Accept a server certificate that does not verify (test servers only)"),
  smtpReturnPath: setting('SMTP_RETURN_PATH', z.email('must be a bare email address').optional(), 'Envelope sender (MAIL FROM), the mailbox bounces go to; SMTP_FROM when unset'),
  smtpBounceReceipts: setting(
    'SMTP_BOUNCE_RECEIPTS',
    bool(false),
    'Bounces (delivery status notifications) are posted to /receipts/smtp?token=<CHANNEL_WORKER_RECEIPTS_TOKEN>: one for a wrong or disabled address ends its delivery dead, others are retried',
  ),
};

export const channelWorkerSettings = {
  ...kafkaSettings,
  ...databaseSettings,
  ...logSettings,
  ...clickSettings,
  ...workerSettings,
  ...pushSettings,
  ...smsSettings,
  ...emailSettings,
};
export type ChannelWorkerConfig = ConfigOf<typeof channelWorkerSettings>;
type Check = CrossCheck<typeof channelWorkerSettings>;

/** Variables a driver cannot go without, checked only when that driver is chosen for a channel this process runs. */
function required(when: boolean, variables: Record<string, unknown>): string[] {
  if (!when) return [];
  return Object.entries(variables)
    .filter(([, value]) => value === undefined)
    .map(([name]) => `${name} is required`);
}

/** A credential is given inline or as a file, exactly one of the two. */
function secret(when: boolean, inline: [string, unknown], file: [string, unknown]): string[] {
  if (!when) return [];
  if (inline[1] !== undefined && file[1] !== undefined) return [`${inline[0]} and ${file[0]} are both set; set one`];
  if (inline[1] === undefined && file[1] === undefined) return [`${inline[0]} or ${file[0]} is required`];
  return [];
}

/** AppGallery Connect signs receipts only when both the callback user name and key are set, so both or neither. */
function hmsReceiptCallbackComplete(hms: boolean, c: ChannelWorkerConfig): string[] {
  const keyGiven = c.hmsReceiptKey !== undefined || c.hmsReceiptKeyFile !== undefined;
  if (!hms || (c.hmsReceiptUserName === undefined && !keyGiven)) return [];
  if (c.hmsReceiptUserName === undefined) return ['PUSH_HMS_RECEIPT_KEY needs PUSH_HMS_RECEIPT_USER_NAME, the callback user name it signs'];
  return secret(true, ['PUSH_HMS_RECEIPT_KEY', c.hmsReceiptKey], ['PUSH_HMS_RECEIPT_KEY_FILE', c.hmsReceiptKeyFile]);
}

const runs = (c: ChannelWorkerConfig, channel: WorkerChannel): boolean => c.channels?.includes(channel) ?? false;

const pushDriversComplete: Check = (c) => {
  const apns = runs(c, 'push') && c.apnsDriver === 'apns';
  const fcm = runs(c, 'push') && c.fcmDriver === 'fcm';
  const hms = runs(c, 'push') && c.hmsDriver === 'hms';
  const xiaomi = runs(c, 'push') && c.xiaomiDriver === 'xiaomi';
  return [
    ...required(apns, { PUSH_APNS_TEAM_ID: c.apnsTeamId, PUSH_APNS_KEY_ID: c.apnsKeyId, PUSH_APNS_TOPIC: c.apnsTopic }),
    ...secret(apns, ['PUSH_APNS_SIGNING_KEY', c.apnsSigningKey], ['PUSH_APNS_SIGNING_KEY_FILE', c.apnsSigningKeyFile]),
    ...secret(fcm, ['PUSH_FCM_SERVICE_ACCOUNT_JSON', c.fcmServiceAccountJson], ['PUSH_FCM_SERVICE_ACCOUNT_FILE', c.fcmServiceAccountFile]),
    ...required(hms, { PUSH_HMS_APP_ID: c.hmsAppId }),
    ...secret(hms, ['PUSH_HMS_APP_SECRET', c.hmsAppSecret], ['PUSH_HMS_APP_SECRET_FILE', c.hmsAppSecretFile]),
    ...hmsReceiptCallbackComplete(hms, c),
    ...required(xiaomi, { PUSH_XIAOMI_PACKAGE_NAME: c.xiaomiPackageName }),
    ...secret(xiaomi, ['PUSH_XIAOMI_APP_SECRET', c.xiaomiAppSecret], ['PUSH_XIAOMI_APP_SECRET_FILE', c.xiaomiAppSecretFile]),
  ];
};

const smsDriverComplete: Check = (c) => {
  const twilio = runs(c, 'sms') && c.smsDriver === 'twilio';
  const aliyun = runs(c, 'sms') && c.smsDriver === 'aliyun';
  const http = runs(c, 'sms') && c.smsDriver === 'http';
  return [
    ...required(twilio, { SMS_TWILIO_ACCOUNT_SID: c.twilioAccountSid, SMS_TWILIO_FROM: c.twilioFrom }),
    ...secret(twilio, ['SMS_TWILIO_AUTH_TOKEN', c.twilioAuthToken], ['SMS_TWILIO_AUTH_TOKEN_FILE', c.twilioAuthTokenFile]),
    ...required(aliyun, { SMS_ALIYUN_ACCESS_KEY_ID: c.aliyunAccessKeyId, SMS_ALIYUN_SIGN_NAME: c.aliyunSignName, SMS_ALIYUN_TEMPLATE_CODE: c.aliyunTemplateCode }),
    ...secret(aliyun, ['SMS_ALIYUN_ACCESS_KEY_SECRET', c.aliyunAccessKeySecret], ['SMS_ALIYUN_ACCESS_KEY_SECRET_FILE', c.aliyunAccessKeySecretFile]),
    ...required(http, { SMS_HTTP_URL: c.httpSmsUrl, SMS_HTTP_BODY_TEMPLATE: c.httpSmsBodyTemplate }),
    ...(http && c.httpSmsHeaders !== undefined && c.httpSmsHeadersFile !== undefined ? ['SMS_HTTP_HEADERS and SMS_HTTP_HEADERS_FILE are both set; set one'] : []),
  ];
};

const emailDriverComplete: Check = (c) => {
  const smtp = runs(c, 'email') && c.emailDriver === 'smtp';
  return [
    ...required(smtp, { SMTP_HOST: c.smtpServer, SMTP_FROM: c.smtpFrom }),
    ...(smtp && c.smtpUser !== undefined ? secret(true, ['SMTP_PASSWORD', c.smtpPassword], ['SMTP_PASSWORD_FILE', c.smtpPasswordFile]) : []),
    ...(smtp ? tlsMismatch(c.smtpServer?.port, c.smtpSecure) : []),
  ];
};

/**
 * A submission port with the other TLS mode: each connection waited for a greeting the server
 * never sends (or sent one it cannot read) until its timeout, counted as the vendor's trouble, and
 * every mail was retried to `dead`.
 */
function tlsMismatch(port: number | undefined, secure: boolean | undefined): string[] {
  if (port === 465 && secure === false) return ['SMTP_HOST names port 465, which takes TLS from the first byte: set SMTP_SECURE=true'];
  if (port === 587 && secure === true) return ['SMTP_SECURE=true on port 587, which starts in plain text and offers STARTTLS: unset SMTP_SECURE'];
  return [];
}

/**
 * The vendors' own variables (the settings whose names start with `prefix`, but for the driver
 * variable itself) given in the environment. One that failed to parse is reported already.
 */
function given(c: ChannelWorkerConfig, env: NodeJS.ProcessEnv, prefix: string, driverVariable: string): string[] {
  const parsed = c as Record<string, unknown>;
  return Object.entries(channelWorkerSettings)
    .filter(([key, item]) => item.env.startsWith(prefix) && item.env !== driverVariable && env[item.env] !== undefined && env[item.env] !== '' && parsed[key] !== undefined)
    .map(([, item]) => item.env);
}

/**
 * A vendor's variables set while the channel's driver is another (`log` by default): the operator
 * meant to use that vendor and forgot its driver variable. Unchecked, every message of the channel
 * went to the log and was recorded as `sent`.
 */
function unusedVendor(
  c: ChannelWorkerConfig,
  env: NodeJS.ProcessEnv,
  channel: WorkerChannel,
  [driverVariable, driver]: [string, string | undefined],
  vendors: Record<string, string>,
): string[] {
  // A driver that failed to parse is reported already.
  if (!runs(c, channel) || driver === undefined) return [];
  return Object.entries(vendors).flatMap(([vendor, prefix]) => {
    if (vendor === driver) return [];
    const variables = given(c, env, prefix, driverVariable);
    if (variables.length === 0) return [];
    const them = variables.length === 1 ? 'it' : 'them';
    return [`${variables.join(', ')} ${variables.length === 1 ? 'is' : 'are'} set but ${driverVariable} is ${driver}: set ${driverVariable}=${vendor} to send with ${them}, or unset ${them}`];
  });
}

const unusedVendors: Check = (c, env) => [
  ...unusedVendor(c, env, 'push', ['PUSH_APNS_DRIVER', c.apnsDriver], { apns: 'PUSH_APNS_' }),
  ...unusedVendor(c, env, 'push', ['PUSH_FCM_DRIVER', c.fcmDriver], { fcm: 'PUSH_FCM_' }),
  ...unusedVendor(c, env, 'push', ['PUSH_HMS_DRIVER', c.hmsDriver], { hms: 'PUSH_HMS_' }),
  ...unusedVendor(c, env, 'push', ['PUSH_XIAOMI_DRIVER', c.xiaomiDriver], { xiaomi: 'PUSH_XIAOMI_' }),
  ...unusedVendor(c, env, 'sms', ['SMS_DRIVER', c.smsDriver], { twilio: 'SMS_TWILIO_', aliyun: 'SMS_ALIYUN_', http: 'SMS_HTTP_' }),
  ...unusedVendor(c, env, 'email', ['EMAIL_DRIVER', c.emailDriver], { smtp: 'SMTP_' }),
];

/**
 * Mi Push posts receipts to the URL each push names, which the receipts endpoint takes only with
 * the installation's token: a URL without it would have every receipt refused, unseen.
 */
const xiaomiReceiptsComplete: Check = (c) => {
  if (c.xiaomiReceiptUrl === undefined) return [];
  if (c.receiptsToken === undefined) return ['PUSH_XIAOMI_RECEIPT_URL needs CHANNEL_WORKER_RECEIPTS_TOKEN, which the receipts endpoint checks'];
  const token = URL.parse(c.xiaomiReceiptUrl)?.searchParams.get('token');
  return token === c.receiptsToken ? [] : ["PUSH_XIAOMI_RECEIPT_URL must carry ?token= with CHANNEL_WORKER_RECEIPTS_TOKEN's value"];
};

/**
 * Bounces carry no signature: they are taken only at the URL with the installation's token. They
 * go to the envelope sender, which must be a mailbox set up to pass them on: left to SMTP_FROM,
 * usually a no-reply address, they would never arrive.
 */
const bounceReceiptsComplete: Check = (c) => {
  if (!runs(c, 'email') || c.emailDriver !== 'smtp' || !c.smtpBounceReceipts) return [];
  return [
    ...(c.receiptsToken === undefined ? ['SMTP_BOUNCE_RECEIPTS needs CHANNEL_WORKER_RECEIPTS_TOKEN, which the receipts endpoint checks'] : []),
    ...(c.smtpReturnPath === undefined ? ['SMTP_BOUNCE_RECEIPTS needs SMTP_RETURN_PATH, the mailbox whose mail system posts the bounces on'] : []),
  ];
};

export function loadChannelWorkerConfig(env: NodeJS.ProcessEnv = process.env): ChannelWorkerConfig {
  return loadConfig('channel-worker', channelWorkerSettings, env, [
    saslComplete,
    clickComplete,
    pushDriversComplete,
    smsDriverComplete,
    emailDriverComplete,
    xiaomiReceiptsComplete,
    bounceReceiptsComplete,
    unusedVendors,
  ]);
}
