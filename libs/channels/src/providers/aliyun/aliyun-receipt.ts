import { ProviderErrorCode, ReceiptFormatError, type ReceiptStatus } from '../../ports';

/**
 * Report codes that no retry can change: the number is on a blocklist, mostly because its owner
 * unsubscribed from this sender (`MOBILE_IN_BLACK`), or its owner refused this service
 * (`USER_REJECT`). The others Aliyun reports lump a switched-off phone with a cancelled number
 * (`MOBILE_NOT_ON_SERVICE`, `INVALID_NUMBER`) or are passing (`MOBILE_SEND_LIMIT`, `IS_CLOSE`, a full
 * phone, an account in arrears): worth a retry, which ends in `dead` when the attempts run out.
 */
const FINAL: ReadonlyMap<string, ProviderErrorCode> = new Map([
  ['MOBILE_IN_BLACK', ProviderErrorCode.EndpointGone],
  ['USER_REJECT', ProviderErrorCode.EndpointGone],
]);

/** Aliyun's SMS report (SmsReport), an array of `{ biz_id, phone_number, success, err_code, report_time }`. */
export function parseAliyunReceipt(body: unknown): ReceiptStatus[] {
  const reports: unknown = typeof body === 'string' ? parseJson(body) : body;
  if (!Array.isArray(reports)) throw new ReceiptFormatError('aliyun', 'report is not an array');
  return reports.map((entry: unknown, index) => {
    const report = (entry ?? {}) as { biz_id?: unknown; phone_number?: unknown; success?: unknown; err_code?: unknown; report_time?: unknown };
    if (typeof report.biz_id !== 'string' || typeof report.success !== 'boolean') throw new ReceiptFormatError('aliyun', `report ${index} lacks biz_id or success`);
    const at = typeof report.report_time === 'string' ? new Date(`${report.report_time.replace(' ', 'T')}+08:00`) : undefined;
    return {
      providerMessageId: report.biz_id,
      status: report.success ? 'delivered' : 'failed',
      ...(typeof report.phone_number === 'string' ? { endpoint: report.phone_number } : {}),
      ...(report.success ? {} : failureOf(report.err_code)),
      ...(at === undefined || Number.isNaN(at.getTime()) ? {} : { at }),
    };
  });
}

function failureOf(code: unknown): Pick<ReceiptStatus, 'error' | 'meaning'> {
  const error = typeof code === 'string' ? code : 'unknown';
  const meaning = FINAL.get(error);
  return meaning === undefined ? { error } : { error, meaning };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ReceiptFormatError('aliyun', 'body is not JSON');
  }
}
