import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { ProviderError, ProviderErrorCode, scrubPersonalData, transportFailureCode, type ProviderLog } from '../../ports';

export interface Http2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Pushes in a row left unanswered (cancelled by their timeout) after which the session is taken for dead. */
const STALLED_AFTER = 3;

/**
 * Requests sent on one session before the next push opens a new one. A client session has the odd
 * stream ids up to 2^31-1, about 2^30 requests; past them Node fails every new request with
 * ERR_HTTP2_OUT_OF_STREAMS but keeps the session open, so every later push would fail until a
 * restart. Half of them leaves a wide margin and still means one new connection in hundreds of millions.
 */
const REQUESTS_PER_SESSION = 2 ** 29;

/**
 * A session is pinged this often (an HTTP/2 PING, which Apple names as the way to check a
 * connection), and dropped when a ping is not answered within `answerWithinMs`. A NAT or a load
 * balancer forgets an idle connection after a few minutes (AWS NAT 350 s, Azure 4 min) without a
 * word: the next burst of pushes then timed out one by one, three of them before the session was
 * taken for stalled, or was reset and failed whole, each push an attempt spent. A ping a minute keeps
 * the mapping alive, and one unanswered drops the session before a push is lost on it.
 */
export interface SessionChecks {
  pingEveryMs: number;
  answerWithinMs: number;
}
const SESSION_CHECKS: SessionChecks = { pingEveryMs: 60_000, answerWithinMs: 10_000 };

/**
 * Times a push whose stream the server refused is sent again. A server closing a session with GOAWAY
 * refuses the streams past the last one it took (REFUSED_STREAM), and Apple does so when it recycles
 * busy connections: dozens of pushes under way at once, each a failure counted by the breaker. APNs
 * also lowers a session's stream limit to one for a while (after a rejected push, and until a
 * token-authenticated session's first push is accepted), refusing the streams under way past it: a
 * push refused once more than this was never looked at either, and fails as `overloaded` (due again
 * at once, no attempt spent, nothing counted against APNs), not as a network failure that spent an
 * attempt and, in a broadcast with stale tokens, opened the circuit for every iOS push.
 */
const REFUSED_RETRIES = 2;

/** A push refused more times than `REFUSED_RETRIES`: never looked at, so no attempt, and due again at once. */
function refusedOnceMore(): ProviderError {
  return new ProviderError({
    provider: 'apns',
    code: ProviderErrorCode.Overloaded,
    message: `APNs refused the push's stream ${REFUSED_RETRIES + 1} times (its session's stream limit); not sent, due again now`,
    retryAfterMs: 0,
  });
}

/**
 * One HTTP/2 session to APNs, reused for every push (Apple asks for long-lived connections) and
 * reopened on the next request after the server closes it or sends GOAWAY, or after
 * `STALLED_AFTER` pushes in a row went unanswered: a connection a NAT or a load balancer dropped
 * without a word gets no GOAWAY and no reset, and would otherwise time out every push until the
 * kernel gives up on it, many minutes later. After `requestsPerSession` requests the session is
 * closed gracefully (the pushes under way on it still get their answers) and the next push opens a
 * new one, before the session runs out of stream ids.
 */
export class ApnsConnection {
  private session: ClientHttp2Session | undefined;
  private unanswered = 0;
  private requests = 0;
  /**
   * Requests under way on each session. One no longer handed out is closed only when its last one
   * has ended: a GOAWAY goes out before requests still queued behind it, and the server refuses them.
   */
  private readonly underWay = new WeakMap<ClientHttp2Session, number>();

  constructor(
    private readonly origin: string,
    private readonly log: ProviderLog,
    private readonly requestsPerSession = REQUESTS_PER_SESSION,
    private readonly checks: SessionChecks = SESSION_CHECKS,
  ) {}

  request(headers: OutgoingHttpHeaders, body: string, signal: AbortSignal): Promise<Http2Answer> {
    return this.send(headers, body, signal, REFUSED_RETRIES);
  }

  private send(headers: OutgoingHttpHeaders, body: string, signal: AbortSignal, refusedRetries: number): Promise<Http2Answer> {
    const session = this.current();
    return new Promise((resolve, reject) => {
      const stream = session.request(headers);
      this.underWay.set(session, (this.underWay.get(session) ?? 0) + 1);
      let status = 0;
      let responseHeaders: IncomingHttpHeaders = {};
      let text = '';
      let settled = false;
      const settle = (outcome: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', cancel);
        outcome();
      };
      const fail = (reason: string, cause?: Error): void =>
        settle(() => reject(new ProviderError({ provider: 'apns', code: cause ? transportFailureCode(cause) : ProviderErrorCode.Network, message: `HTTP/2 stream ${reason}`, cause })));
      // Not the request's `signal` option: the guard's signal may abort after the call has returned,
      // and Node would then reset a stream that has already answered, breaking the whole session.
      const cancel = (): void => {
        const answered = status !== 0;
        fail('cancelled');
        if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
        if (!answered) this.stalled(session);
      };
      signal.addEventListener('abort', cancel, { once: true });
      if (signal.aborted) cancel();
      stream.setEncoding('utf8');
      stream.on('response', (received) => {
        responseHeaders = received;
        status = Number(received[constants.HTTP2_HEADER_STATUS]);
        if (this.session === session) this.unanswered = 0;
      });
      stream.on('data', (chunk: string) => {
        text += chunk;
      });
      stream.on('end', () => {
        if (status === 0) fail('ended without an answer');
        else settle(() => resolve({ status, headers: responseHeaders, body: text }));
      });
      stream.on('error', (error: Error & { code?: string }) => {
        // The margin of REQUESTS_PER_SESSION should make this never happen; should it, the session is
        // no use any more, though Node leaves it open.
        if (error.code === 'ERR_HTTP2_OUT_OF_STREAMS') this.retire(session);
        // Refused, the push was never looked at (HTTP/2's promise): sent again at once, it spends no
        // attempt and is no sign of trouble at Apple for the circuit breaker.
        if (status === 0 && stream.rstCode === constants.NGHTTP2_REFUSED_STREAM && !signal.aborted) {
          if (refusedRetries > 0) settle(() => resolve(this.send(headers, body, signal, refusedRetries - 1)));
          else settle(() => reject(refusedOnceMore()));
          return;
        }
        fail(`failed: ${error.message}`, error);
      });
      stream.on('close', () => {
        fail(`closed before an answer (code ${stream.rstCode ?? 'none'})`);
        this.ended(session);
      });
      stream.end(body);
    });
  }

  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session === undefined || session.closed || session.destroyed) return;
    await new Promise<void>((resolve) => session.close(() => resolve()));
  }

  /** One more push left unanswered on `session`; enough in a row, and the session is dropped. */
  private stalled(session: ClientHttp2Session): void {
    if (this.session !== session || ++this.unanswered < STALLED_AFTER) return;
    this.session = undefined;
    session.destroy();
    this.log.warn({ provider: 'apns', event: 'session_stalled' }, `apns: ${STALLED_AFTER} pushes in a row went unanswered; the next push opens a new session`);
  }

  /** Pings `session`; unanswered in time, it is dropped, and the next push opens a new one. */
  private ping(session: ClientHttp2Session): void {
    if (session.closed || session.destroyed) return;
    const unanswered = (): void => {
      if (session.destroyed) return;
      if (this.session === session) this.session = undefined;
      session.destroy();
      this.log.warn({ provider: 'apns', event: 'ping_unanswered' }, 'apns: the HTTP/2 session did not answer a ping; the next push opens a new one');
    };
    const timer = setTimeout(unanswered, this.checks.answerWithinMs);
    timer.unref();
    const sent = session.ping((error) => {
      clearTimeout(timer);
      if (error) unanswered();
    });
    if (!sent) clearTimeout(timer);
  }

  /** Stops handing out `session`, and closes it once the requests under way on it have ended. */
  private retire(session: ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
    if ((this.underWay.get(session) ?? 0) === 0) session.close();
  }

  /** One request on `session` ended; the last one on a session no longer handed out closes it. */
  private ended(session: ClientHttp2Session): void {
    const left = (this.underWay.get(session) ?? 1) - 1;
    this.underWay.set(session, left);
    if (left === 0 && this.session !== session) session.close();
  }

  private current(): ClientHttp2Session {
    if (this.session !== undefined && !this.session.closed && !this.session.destroyed) {
      if (this.requests < this.requestsPerSession) {
        this.requests += 1;
        return this.session;
      }
      this.retire(this.session);
    }
    this.unanswered = 0;
    this.requests = 1;
    const session = connect(this.origin);
    const forget = (): void => {
      if (this.session === session) this.session = undefined;
    };
    session.on('error', (error) => {
      forget();
      this.log.warn({ provider: 'apns', event: 'session_error', reason: scrubPersonalData(error.message) }, 'apns: HTTP/2 session failed; the next push opens a new one');
    });
    session.on('goaway', forget);
    session.on('close', forget);
    const pinging = setInterval(() => this.ping(session), this.checks.pingEveryMs);
    pinging.unref();
    session.on('close', () => clearInterval(pinging));
    this.session = session;
    return session;
  }
}
