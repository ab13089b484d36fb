import { ProviderError, ProviderErrorCode, maskPhone, type HttpAnswer } from '../../ports';

/** Dysmsapi `Code` values the adapter acts on (SendSms error codes, and the RPC gateway's own). */
const CODES: Record<string, ProviderErrorCode> = {
  'isv.MOBILE_NUMBER_ILLEGAL': ProviderErrorCode.InvalidEndpoint,
  'isv.MOBILE_COUNT_OVER_LIMIT': ProviderErrorCode.Rejected,
  'isv.BLACK_KEY_CONTROL_LIMIT': ProviderErrorCode.Rejected,
  'isv.PARAM_LENGTH_LIMIT': ProviderErrorCode.Rejected,
  'isv.SMS_CONTENT_ILLEGAL': ProviderErrorCode.Rejected,
  'isv.INVALID_PARAMETERS': ProviderErrorCode.Rejected,
  'isv.INVALID_JSON_PARAM': ProviderErrorCode.Rejected,
  'isv.TEMPLATE_PARAMS_ILLEGAL': ProviderErrorCode.Rejected,
  'isv.PARAM_NOT_SUPPORT_URL': ProviderErrorCode.Rejected,
  'isv.NOT_SUPPORTED_COUNTRY': ProviderErrorCode.Rejected,
  'isv.COUNTRY_RESTRICTED': ProviderErrorCode.Rejected,
  // A number's own limits (a minute's, an hour's, a day's sends to it): the vendor is fine, so no circuit opens for every SMS.
  'isv.BUSINESS_LIMIT_CONTROL': ProviderErrorCode.Deferred,
  'isv.DAY_LIMIT_CONTROL': ProviderErrorCode.RateLimited,
  'Throttling.User': ProviderErrorCode.RateLimited,
  Throttling: ProviderErrorCode.RateLimited,
  'isv.SMS_SIGNATURE_ILLEGAL': ProviderErrorCode.Misconfigured,
  'isv.SMS_TEMPLATE_ILLEGAL': ProviderErrorCode.Misconfigured,
  'isv.TEMPLATE_MISSING_PARAMETERS': ProviderErrorCode.Misconfigured,
  'isv.AMOUNT_NOT_ENOUGH': ProviderErrorCode.Misconfigured,
  'isv.OUT_OF_SERVICE': ProviderErrorCode.Misconfigured,
  'isv.ACCOUNT_NOT_EXISTS': ProviderErrorCode.Misconfigured,
  'isv.ACCOUNT_ABNORMAL': ProviderErrorCode.Misconfigured,
  'isv.PRODUCT_UN_SUBSCRIPT': ProviderErrorCode.Misconfigured,
  'isv.PRODUCT_UNSUBSCRIBE': ProviderErrorCode.Misconfigured,
  'isv.SMS_SIGN_NAME_ILLEGAL': ProviderErrorCode.Misconfigured,
  'isv.SMS_SIGNATURE_SCENE_ILLEGAL': ProviderErrorCode.Misconfigured,
  'isv.DENY_IP_RANGE': ProviderErrorCode.Misconfigured,
  // The account's monthly quota: nothing goes out until someone raises it or the month turns.
  'isv.MONTH_LIMIT_CONTROL': ProviderErrorCode.Misconfigured,
  // A frozen account (45 days without a send) or a test signature or template used in production.
  'isv.SECURITY_FROZEN_ACCOUNT': ProviderErrorCode.Misconfigured,
  'isv.SMS_TEST_NUMBER_LIMIT': ProviderErrorCode.Misconfigured,
  'isv.SMS_TEST_SIGN_TEMPLATE_LIMIT': ProviderErrorCode.Misconfigured,
  'isp.RAM_PERMISSION_DENY': ProviderErrorCode.Misconfigured,
  SignatureDoesNotMatch: ProviderErrorCode.BadCredentials,
  'InvalidAccessKeyId.NotFound': ProviderErrorCode.BadCredentials,
  'InvalidAccessKeyId.Inactive': ProviderErrorCode.BadCredentials,
  // The gateway refuses a Timestamp more than 15 minutes away from its own clock (Expired) or not in
  // ISO 8601 UTC (Format), both with 400: this host's clock or setup, which no retry of the message fixes.
  'InvalidTimeStamp.Expired': ProviderErrorCode.Misconfigured,
  'InvalidTimeStamp.Format': ProviderErrorCode.Misconfigured,
  'isp.SYSTEM_ERROR': ProviderErrorCode.Unavailable,
  ServiceUnavailable: ProviderErrorCode.Unavailable,
};

/** Per-number limits of Aliyun SMS reset by the minute at the soonest. */
const LIMIT_RETRY_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** China Standard Time, UTC+8 all year: the day of Aliyun's daily quotas. */
const CHINA_OFFSET_MS = 8 * 3_600_000;

/**
 * How long to wait after a rate limit. For the account's daily quota (`isv.DAY_LIMIT_CONTROL`),
 * until the next midnight in China, when it comes back. For a number's limits
 * (`isv.BUSINESS_LIMIT_CONTROL`), the window its message names: a minute (分钟级), an hour
 * (小时级) or a day (天级, counted over the last 24 hours, so a whole day) — retried every minute,
 * the delivery would spend its attempts long before an hour's or a day's limit lets it through.
 */
function retryAfterMsOf(vendorCode: string | undefined, message: string | undefined, now: number): number {
  if (vendorCode === 'isv.DAY_LIMIT_CONTROL') return DAY_MS - ((now + CHINA_OFFSET_MS) % DAY_MS);
  if (vendorCode === 'isv.BUSINESS_LIMIT_CONTROL' && message?.includes('天级')) return DAY_MS;
  if (vendorCode === 'isv.BUSINESS_LIMIT_CONTROL' && message?.includes('小时级')) return HOUR_MS;
  return LIMIT_RETRY_MS;
}

export interface AliyunAnswerBody {
  Code?: string;
  Message?: string;
  BizId?: string;
  RequestId?: string;
}

export function aliyunError(answer: HttpAnswer, body: AliyunAnswerBody, phone: string, now: number): ProviderError {
  const code = (body.Code === undefined ? undefined : CODES[body.Code]) ?? byVendorCode(body.Code) ?? byStatus(answer.status);
  return new ProviderError({
    provider: 'aliyun',
    code,
    vendorCode: body.Code,
    status: answer.status,
    retryAfterMs: code === ProviderErrorCode.RateLimited || code === ProviderErrorCode.Deferred ? retryAfterMsOf(body.Code, body.Message, now) : undefined,
    message: `SMS to ${maskPhone(phone)} refused with ${answer.status} ${body.Code ?? ''} (request ${body.RequestId ?? 'unknown'})`,
  });
}

/**
 * SendSms answers a refusal of the request itself with 200 and an `isv.` code (the caller's side:
 * this message or this account), and its own failures with `isp.` codes. An `isv.` code not listed
 * above is not the vendor failing: taken for `unexpected` it was retried and counted by the circuit
 * breaker, so one broadcast with a refused word opened the circuit for every SMS. Whether it is the
 * message's fault or the account's is unknown, so it is taken as the account's: an alert, and the
 * deliveries wait an hour instead of being lost if it was the account.
 *
 * The RPC gateway in front of SendSms answers with 400 or 403 and a Code of its own; read only on a
 * 200, these codes were `unexpected` (retried, and counted by the circuit breaker, which then failed
 * every SMS). By Aliyun's common error codes: `Throttling` and its `Throttling.*` kinds (400) are the
 * account's or the API's flow control, waited out like `Throttling.User`; `Forbidden` and its
 * `Forbidden.*` kinds (403: RAM permission, risk control) are the account's, like
 * `isp.RAM_PERMISSION_DENY`; `MissingParameter`, `Missing{Name}` and `InvalidParameter*` (400) refuse
 * this request's parameters, so this message. The code is read whatever the status; an answer
 * without one, or with one not known here, goes by its status.
 */
function byVendorCode(vendorCode: string | undefined): ProviderErrorCode | undefined {
  if (vendorCode === undefined) return undefined;
  if (vendorCode.startsWith('isv.')) return ProviderErrorCode.Misconfigured;
  if (vendorCode.startsWith('isp.')) return ProviderErrorCode.Unavailable;
  if (vendorCode.startsWith('Throttling')) return ProviderErrorCode.RateLimited;
  if (vendorCode.startsWith('Forbidden')) return ProviderErrorCode.Misconfigured;
  if (vendorCode.startsWith('Missing') || vendorCode.startsWith('InvalidParameter')) return ProviderErrorCode.Rejected;
  return undefined;
}

function byStatus(status: number): ProviderErrorCode {
  if (status === 401 || status === 403) return ProviderErrorCode.BadCredentials;
  if (status === 429) return ProviderErrorCode.RateLimited;
  if (status >= 500) return ProviderErrorCode.Unavailable;
  return ProviderErrorCode.Unexpected;
}
