import { ReceiptFormatError, type ReceiptStatus } from '../../ports';

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
      ...(report.success ? {} : { error: typeof report.err_code === 'string' ? report.err_code : 'unknown' }),
      ...(at === undefined || Number.isNaN(at.getTime()) ? {} : { at }),
    };
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ReceiptFormatError('aliyun', 'body is not JSON');
  }
}
