import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MessageListFilter, MessagePosition } from '@notify/persistence';
import { RpcError } from '../grpc/rpc-error';

const POSITION_AT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Page tokens: the position where a page ended, signed with HMAC-SHA256 over the position, the
 * method and the query it belongs to (for ListMessages the user and every filter, for
 * ListDeliveries the message). The query itself is not in the token, so a token shows nothing but
 * where the page ended (a time and a message id, or a delivery id), and a token of one query is
 * refused for any other. The page size is left out: a caller may change it between pages.
 */
export class PageTokens {
  constructor(private readonly secret: Buffer) {}

  issue(query: MessageListFilter, position: MessagePosition): string {
    return this.seal('ListMessages', messagesScope(query), [position.createdAt, position.id]);
  }

  /** The position to continue from; INVALID_ARGUMENT when the token is malformed, forged or of another query. */
  read(token: string, query: MessageListFilter): MessagePosition {
    const position = this.open('ListMessages', messagesScope(query), token);
    if (!POSITION_AT.test(String(position[0])) || !UUID.test(String(position[1]))) throw invalid('malformed');
    return { createdAt: String(position[0]), id: String(position[1]) };
  }

  /** A ListDeliveries token: the last delivery of the page, for this message only. */
  issueDeliveries(messageId: string, deliveryId: string): string {
    return this.seal('ListDeliveries', JSON.stringify([messageId.toLowerCase()]), [deliveryId]);
  }

  /** The delivery to continue after; INVALID_ARGUMENT when the token is malformed, forged or of another message. */
  readDeliveries(token: string, messageId: string): string {
    const [deliveryId] = this.open('ListDeliveries', JSON.stringify([messageId.toLowerCase()]), token);
    if (!UUID.test(String(deliveryId))) throw invalid('malformed');
    return String(deliveryId);
  }

  private seal(method: string, scope: string, position: unknown[]): string {
    const body = Buffer.from(JSON.stringify(position)).toString('base64url');
    return `${body}.${this.sign(method, scope, body).toString('base64url')}`;
  }

  private open(method: string, scope: string, token: string): unknown[] {
    const [body, signature, ...rest] = token.split('.');
    if (!body || !signature || rest.length > 0) throw invalid('malformed');
    const expected = this.sign(method, scope, body);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid('not issued for this query');
    const position: unknown = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    if (!Array.isArray(position)) throw invalid('malformed');
    return position;
  }

  private sign(method: string, scope: string, body: string): Buffer {
    return createHmac('sha256', this.secret).update(`notify.v1.${method}\n${scope}\n${body}`).digest();
  }
}

function messagesScope(query: MessageListFilter): string {
  return JSON.stringify([query.userId, query.status ?? '', query.type ?? '', query.since?.toISOString() ?? '', query.until?.toISOString() ?? '']);
}

function invalid(reason: string): RpcError {
  return RpcError.invalidArgument([`pageToken: ${reason}`]);
}
