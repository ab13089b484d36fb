import { randomBytes } from 'node:crypto';
import { ScriptedReplies, requestForm, startFakeHttpServer, type FakeReply, type FakeRequest } from './fake-http-server';

export interface XiaomiMessage {
  regids: string[];
  form: URLSearchParams;
  /** The message id Mi Push answered with, which its receipts name. */
  id: string;
}

export interface XiaomiFailure {
  status?: number;
  code: number;
  reason: string;
}

export interface FakeXiaomi {
  url: string;
  appSecret: string;
  packageName: string;
  messages: XiaomiMessage[];
  /** The regid is reported in `bad_regids` from now on. */
  unregister(regid: string): void;
  failNext(failure: XiaomiFailure, times?: number): void;
  close(): Promise<void>;
}

/** Mi Push server API `POST /v3/message/regid`: form body, `Authorization: key=<AppSecret>`. */
export async function startFakeXiaomi(options: { latencyMs?: number; record?: boolean } = {}): Promise<FakeXiaomi> {
  const appSecret = randomBytes(18).toString('base64');
  const packageName = 'com.example.notify';
  const unregistered = new Set<string>();
  const failures = new ScriptedReplies<XiaomiFailure>();
  const traceId = (): string => `Xcm${randomBytes(10).toString('hex')}`;
  const error = (code: number, reason: string, status = 200): FakeReply => ({ status, body: { result: 'error', code, reason, trace_id: traceId(), description: reason } });

  const send = (request: FakeRequest): FakeReply => {
    if (request.method !== 'POST' || request.path !== '/v3/message/regid') return { status: 404, body: 'not found' };
    if (request.headers['authorization'] !== `key=${appSecret}`) return error(21301, 'Authentication failed');
    const form = requestForm(request);
    const regids = (form.get('registration_id') ?? '').split(',').filter((regid) => regid !== '');
    if (regids.length === 0) return error(20301, 'No valid targets');
    const failure = failures.take();
    if (failure !== undefined) return error(failure.code, failure.reason, failure.status);
    const bad = regids.filter((regid) => unregistered.has(regid));
    if (bad.length === regids.length) return error(20301, 'No valid targets');
    const id = `scm${randomBytes(10).toString('hex')}`;
    if (options.record !== false) fake.messages.push({ regids: regids.filter((regid) => !unregistered.has(regid)), form, id });
    return {
      status: 200,
      body: {
        result: 'ok',
        code: 0,
        trace_id: traceId(),
        description: '成功',
        info: `Received push messages for ${regids.length - bad.length} REGID`,
        data: { id, ...(bad.length === 0 ? {} : { bad_regids: bad.join(',') }) },
      },
    };
  };

  const server = await startFakeHttpServer(send, options);
  const fake: FakeXiaomi = {
    url: server.url,
    appSecret,
    packageName,
    messages: [],
    unregister: (regid) => unregistered.add(regid),
    failNext: (failure, times) => failures.push(failure, times),
    close: () => server.close(),
  };
  return fake;
}
