import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MessageListFilter, MessagePosition } from '@notify/persistence';
import { RpcError } from '../grpc/rpc-error';

const POSITION_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * ListMessages page tokens: the position where a page ended, signed with HMAC-SHA256 over the
 * position and the query it belongs to (user and every filter). The query itself is not in the
 * token, so a token shows nothing but a time and a message id, and a token of one user's query is
 * refused for any other query. The page size is left out: a caller may change it between pages.
 */
export class PageTokens {
  constructor(private readonly secret: Buffer) {}

  issue(query: MessageListFilter, position: MessagePosition): string {
    const body = Buffer.from(JSON.stringify([position.createdAt, position.id])).toString('base64url');
    return `${body}.${this.sign(body, query).toString('base64url')}`;
  }

  /** The position to continue from; INVALID_ARGUMENT when the token is malformed, forged or of another query. */
  read(token: string, query: MessageListFilter): MessagePosition {
    const [body, signature, ...rest] = token.split('.');
    if (!body || !signature || rest.length > 0) throw invalid('malformed');
    const expected = this.sign(body, query);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('not issued for this query');
    const position: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    if (!Array.isArray(position) || !POSITION_AT.test(String(position[0])) || !UUID.test(String(position[1]))) throw invalid('malformed');
    return { createdAt: String(position[0]), id: String(position[1]) };
  }

  private sign(body: string, query: MessageListFilter): Buffer {
    const scope = JSON.stringify([query.userId, query.status ?? '', query.type ?? '', query.since?.toISOString() ?? '', query.until?.toISOString() ?? '']);
    return createHmac('sha256', this.secret).update(`notify.v1.ListMessages\n${scope}\n${body}`).digest();
  }
}

function invalid(reason: string): RpcError {
  return RpcError.invalidArgument([`pageToken: ${reason}`]);
}
