import { ScriptedReplies, startFakeHttpServer, type FakeReply, type FakeRequest } from './fake-http-server';

export interface FakeSmsGateway {
  url: string;
  requests: FakeRequest[];
  /** The next answers, before the normal `200 {"id": …}`; e.g. a 302 to check redirects are refused. */
  replyNext(reply: FakeReply, times?: number): void;
  close(): Promise<void>;
}

/** A generic HTTP SMS gateway: records every request, answers `200 {"data":{"id":"gw-<n>"}}`. */
export async function startFakeSmsGateway(options: { latencyMs?: number } = {}): Promise<FakeSmsGateway> {
  const scripted = new ScriptedReplies<FakeReply>();
  let sent = 0;
  const server = await startFakeHttpServer(() => {
    const next = scripted.take();
    if (next !== undefined) return next;
    sent += 1;
    return { status: 200, body: { data: { id: `gw-${sent}` } } };
  }, options);
  return { url: server.url, requests: server.requests, replyNext: (reply, times) => scripted.push(reply, times), close: () => server.close() };
}
