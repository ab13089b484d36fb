import { createHmac, randomBytes } from 'node:crypto';
import { ScriptedReplies, requestForm, startFakeHttpServer, type FakeReply, type FakeRequest } from './fake-http-server';

/** Twilio refuses a longer body, whole (error 21617). */
const TWILIO_MAX_BODY = 1_600;

export interface TwilioMessage {
  sid: string;
  to: string;
  from: string;
  body: string;
  /** The StatusCallback the message was sent with. */
  statusCallback?: string;
}

/** A final status of a message, as its status callback reports it. */
export interface TwilioStatus {
  status: 'delivered' | 'undelivered' | 'failed' | 'sent';
  /** Twilio's error code of an undelivered or failed message, e.g. 30003. */
  errorCode?: number;
  /** Where the callback really goes: the address behind the public StatusCallback URL it is signed for. */
  postTo: string;
  /** Signs with this token instead of the account's: a forged callback. */
  signWith?: string;
}

export interface TwilioFailure {
  status: number;
  code: number;
  message: string;
  retryAfterSeconds?: number;
  delayMs?: number;
}

export interface FakeTwilio {
  url: string;
  accountSid: string;
  authToken: string;
  messages: TwilioMessage[];
  /** The number answers 21610 (recipient replied STOP) from now on. */
  optOut(phone: string): void;
  failNext(failure: TwilioFailure, times?: number): void;
  /**
   * Accepts the next message (it is recorded, with a sid of its own) but answers with this status and
   * body instead of the Message resource: a proxy's page, a cut answer, a resource without a sid.
   */
  acceptNextWith(answer: { status?: number; body: unknown }): void;
  /**
   * Posts the message's status callback as Twilio does: a form signed in `X-Twilio-Signature`
   * (HMAC-SHA1 under the auth token of the StatusCallback URL and the sorted parameters). Resolves
   * to the HTTP status of the answer.
   */
  reportStatus(message: TwilioMessage, status: TwilioStatus): Promise<number>;
  close(): Promise<void>;
}

const E164 = /^\+[1-9][0-9]{6,14}$/;

/** Twilio Programmable Messaging: `POST /2010-04-01/Accounts/<sid>/Messages.json`, Basic auth. */
export async function startFakeTwilio(options: { latencyMs?: number; record?: boolean } = {}): Promise<FakeTwilio> {
  const accountSid = `AC${randomBytes(16).toString('hex')}`;
  const authToken = randomBytes(16).toString('hex');
  const optedOut = new Set<string>();
  const failures = new ScriptedReplies<TwilioFailure>();
  const oddAnswers = new ScriptedReplies<{ status?: number; body: unknown }>();
  const error = (status: number, code: number, message: string): FakeReply => ({
    status,
    body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
  });

  const send = (request: FakeRequest): FakeReply => {
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(request.path);
    if (request.method !== 'POST' || match === null) return error(404, 20404, 'The requested resource was not found');
    const credentials = Buffer.from(String(request.headers['authorization'] ?? '').replace(/^Basic /, ''), 'base64').toString('utf8');
    if (credentials !== `${accountSid}:${authToken}`) return error(401, 20003, 'Authenticate');
    if (match[1] !== accountSid) return error(404, 20404, 'The requested resource was not found');
    const form = requestForm(request);
    const to = form.get('To') ?? '';
    const service = form.get('MessagingServiceSid');
    if (service !== null && !/^MG[0-9a-f]{32}$/.test(service)) return error(400, 21705, 'The Messaging Service is invalid');
    const from = form.get('From') ?? service;
    const body = form.get('Body');
    if (from === null) return error(400, 21603, "A 'From' phone number is required.");
    if (body === null || body === '') return error(400, 21602, 'Message body is required.');
    if (body.length > TWILIO_MAX_BODY) return error(400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
    if (!E164.test(to)) return error(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (optedOut.has(to)) return error(400, 21610, 'Attempt to send to unsubscribed recipient');
    const failure = failures.take();
    if (failure !== undefined) {
      return {
        ...error(failure.status, failure.code, failure.message),
        ...(failure.retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(failure.retryAfterSeconds) } }),
        ...(failure.delayMs === undefined ? {} : { delayMs: failure.delayMs }),
      };
    }
    const sid = `SM${randomBytes(16).toString('hex')}`;
    const statusCallback = form.get('StatusCallback') ?? undefined;
    if (options.record !== false) fake.messages.push({ sid, to, from, body, ...(statusCallback === undefined ? {} : { statusCallback }) });
    const odd = oddAnswers.take();
    if (odd !== undefined) return { status: odd.status ?? 201, body: odd.body };
    return {
      status: 201,
      body: {
        sid,
        account_sid: accountSid,
        to,
        from,
        body,
        status: 'queued',
        date_created: new Date().toUTCString(),
        num_segments: '1',
        error_code: null,
        error_message: null,
      },
    };
  };

  const server = await startFakeHttpServer(send, options);
  const fake: FakeTwilio = {
    url: server.url,
    accountSid,
    authToken,
    messages: [],
    optOut: (phone) => optedOut.add(phone),
    failNext: (failure, times) => failures.push(failure, times),
    acceptNextWith: (answer) => oddAnswers.push(answer),
    reportStatus: async (message, { status, errorCode, postTo, signWith }) => {
      if (message.statusCallback === undefined) throw new Error(`message ${message.sid} was sent without a StatusCallback`);
      const params: Record<string, string> = {
        AccountSid: accountSid,
        ApiVersion: '2010-04-01',
        From: message.from,
        MessageSid: message.sid,
        MessageStatus: status,
        SmsSid: message.sid,
        SmsStatus: status,
        To: message.to,
        ...(errorCode === undefined ? {} : { ErrorCode: String(errorCode) }),
      };
      const signed = message.statusCallback + Object.keys(params).sort().map((name) => name + params[name]).join('');
      const signature = createHmac('sha1', signWith ?? authToken).update(signed).digest('base64');
      const answer = await fetch(postTo, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature, 'i-twilio-idempotency-token': randomBytes(8).toString('hex') },
        body: new URLSearchParams(params).toString(),
      });
      await answer.arrayBuffer();
      return answer.status;
    },
    close: () => server.close(),
  };
  return fake;
}
