import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { ScriptedReplies, startFakeHttpServer, type FakeReply, type FakeRequest } from './fake-http-server';

export interface AliyunSms {
  phoneNumbers: string;
  signName: string;
  templateCode: string;
  templateParam: Record<string, string>;
  bizId: string;
}

export interface AliyunFailure {
  code: string;
  message: string;
  status?: number;
}

export interface FakeAliyunSms {
  url: string;
  accessKeyId: string;
  accessKeySecret: string;
  messages: AliyunSms[];
  /** Signatures checked, including failed ones. */
  signaturesChecked: number;
  failNext(failure: AliyunFailure, times?: number): void;
  /**
   * Accepts the next message (it is recorded, with a BizId of its own) but answers with this status
   * and body instead of `Code: OK` and the BizId: a proxy's page, a cut answer, an OK without BizId.
   */
  acceptNextWith(answer: { status?: number; body: unknown }): void;
  close(): Promise<void>;
}

const FIFTEEN_MINUTES = 15 * 60_000;
const MAINLAND_OR_INTERNATIONAL = /^(\+|00)?[1-9][0-9]{6,14}$/;

/**
 * Dysmsapi `SendSms` (RPC style, 2017-05-25): recomputes the HMAC-SHA1 signature from the sorted,
 * percent-encoded parameters, and checks the timestamp window and the nonce.
 */
export async function startFakeAliyunSms(options: { latencyMs?: number; record?: boolean; now?: () => number } = {}): Promise<FakeAliyunSms> {
  const accessKeyId = `LTAI${randomBytes(10).toString('hex')}`;
  const accessKeySecret = randomBytes(15).toString('base64');
  const now = options.now ?? Date.now;
  const nonces = new Set<string>();
  const failures = new ScriptedReplies<AliyunFailure>();
  const oddAnswers = new ScriptedReplies<{ status?: number; body: unknown }>();

  const handle = (request: FakeRequest): FakeReply => {
    const requestId = randomUUID().toUpperCase();
    const reply = (status: number, code: string, message: string): FakeReply => ({ status, body: { RequestId: requestId, Code: code, Message: message } });
    const params = new Map<string, string>([...request.query, ...(request.method === 'POST' ? new URLSearchParams(request.body) : [])]);
    const signature = params.get('Signature');
    params.delete('Signature');
    if (signature === undefined) return reply(400, 'MissingSignature', 'Signature is mandatory for this action.');
    if (params.get('SignatureMethod') !== 'HMAC-SHA1' || params.get('SignatureVersion') !== '1.0') {
      return reply(400, 'InvalidParameter', 'Unsupported signature method or version.');
    }
    if (params.get('AccessKeyId') !== accessKeyId) return reply(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    const timestamp = Date.parse(params.get('Timestamp') ?? '');
    if (Number.isNaN(timestamp) || Math.abs(now() - timestamp) > FIFTEEN_MINUTES) {
      return reply(400, 'InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.');
    }
    fake.signaturesChecked += 1;
    if (signature !== sign(request.method, params, accessKeySecret)) return reply(400, 'SignatureDoesNotMatch', 'Specified signature is not matched with our calculation.');
    const nonce = params.get('SignatureNonce') ?? '';
    if (nonces.has(nonce)) return reply(400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    nonces.add(nonce);
    if (params.get('Action') !== 'SendSms' || params.get('Version') !== '2017-05-25') return reply(400, 'InvalidAction.NotFound', 'Specified api is not found.');
    const phoneNumbers = params.get('PhoneNumbers') ?? '';
    if (!phoneNumbers.split(',').every((phone) => MAINLAND_OR_INTERNATIONAL.test(phone))) return reply(200, 'isv.MOBILE_NUMBER_ILLEGAL', '非法手机号');
    let templateParam: Record<string, string>;
    try {
      templateParam = JSON.parse(params.get('TemplateParam') ?? '{}') as Record<string, string>;
    } catch {
      return reply(200, 'isv.INVALID_JSON_PARAM', 'JSON参数不合法，只接受字符串值');
    }
    const failure = failures.take();
    if (failure !== undefined) return reply(failure.status ?? 200, failure.code, failure.message);
    const bizId = `${Math.floor(Math.random() * 1e15)}^0`;
    if (options.record !== false) {
      fake.messages.push({ phoneNumbers, signName: params.get('SignName') ?? '', templateCode: params.get('TemplateCode') ?? '', templateParam, bizId });
    }
    const odd = oddAnswers.take();
    if (odd !== undefined) return { status: odd.status ?? 200, body: odd.body };
    return { status: 200, body: { RequestId: requestId, Code: 'OK', Message: 'OK', BizId: bizId } };
  };

  const server = await startFakeHttpServer(handle, options);
  const fake: FakeAliyunSms = {
    url: server.url,
    accessKeyId,
    accessKeySecret,
    messages: [],
    signaturesChecked: 0,
    failNext: (failure, times) => failures.push(failure, times),
    acceptNextWith: (answer) => oddAnswers.push(answer),
    close: () => server.close(),
  };
  return fake;
}

/** Written from Alibaba Cloud's RPC signature description, independently of the adapter's code. */
function sign(method: string, params: Map<string, string>, secret: string): string {
  // The documented recipe: URL-encode, then fix up '+', '*' and '~'; encodeURIComponent also leaves !'() alone.
  const encode = (value: string): string =>
    encodeURIComponent(value)
      .replace(/\+/g, '%20')
      .replace(/\*/g, '%2A')
      .replace(/%7E/g, '~')
      .replace(/[!'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const canonical = [...params.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${encode(key)}=${encode(value)}`)
    .join('&');
  return createHmac('sha1', `${secret}&`).update(`${method}&${encode('/')}&${encode(canonical)}`).digest('base64');
}
