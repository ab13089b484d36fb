import { createHmac, timingSafeEqual } from 'node:crypto';

/** The path of a tracked link (contract §6): `GET /c/{token}` records a click and redirects. */
export const CLICK_PATH = '/c';

/** The path of a one-click unsubscribe (contract §6, RFC 8058): `POST /u/{token}` unsubscribes, `GET` shows a button that does. */
export const UNSUBSCRIBE_PATH = '/u';

/**
 * What an unsubscribe token's MAC is made over, before its payload. A click token's is a bare
 * delivery id (a UUID, no colon): neither token passes for the other.
 */
const UNSUBSCRIBE_PURPOSE = 'unsubscribe:';

/** Bytes of the HMAC a token carries: 128 bits, which no one guesses. */
const MAC_BYTES = 16;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The link a delivery's message goes out with: its tracked link when clicks are tracked, else the address as it is. */
export function outgoingLink(links: ClickLinks | null | undefined, deliveryId: string, url: string | undefined): string | undefined {
  return url && links ? links.link(deliveryId) : url;
}

/**
 * Tracked links: `{baseUrl}/c/{deliveryId}.{mac}`, the delivery id signed with a secret the gateway
 * (which answers the link) and every sender (which writes it) share. The link names the delivery,
 * not where it leads: the target is read from the message when it is clicked, so a link cannot be
 * turned into a redirect anywhere.
 */
export class ClickLinks {
  private readonly base: string;

  constructor(
    private readonly secret: string,
    baseUrl: string,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /** The links of an app's settings: none without a secret (links are then sent untracked). */
  static of(settings: { clickSecret?: string; clickBaseUrl?: string }): ClickLinks | undefined {
    return settings.clickSecret && settings.clickBaseUrl ? new ClickLinks(settings.clickSecret, settings.clickBaseUrl) : undefined;
  }

  /** The tracked link of a delivery. */
  link(deliveryId: string): string {
    return `${this.base}${CLICK_PATH}/${deliveryId}.${this.mac(deliveryId)}`;
  }

  /** The delivery a token names, when the token was made with this secret; otherwise undefined. */
  deliveryOf(token: string): string | undefined {
    const [deliveryId, mac, ...rest] = token.split('.');
    if (rest.length > 0 || deliveryId === undefined || mac === undefined || !UUID.test(deliveryId)) return undefined;
    return this.signed(deliveryId, mac) ? deliveryId : undefined;
  }

  /**
   * The one-click unsubscribe link of a user from a topic (RFC 8058):
   * `{baseUrl}/u/{payload}.{mac}`, the payload the user id and the topic (base64url of their JSON),
   * signed as a click link is, after `UNSUBSCRIBE_PURPOSE`. It holds all it needs: no cookie, no session.
   */
  unsubscribeLink(userId: string, topic: string): string {
    const payload = Buffer.from(JSON.stringify([userId, topic])).toString('base64url');
    return `${this.base}${UNSUBSCRIBE_PATH}/${payload}.${this.mac(UNSUBSCRIBE_PURPOSE + payload)}`;
  }

  /** The user and topic an unsubscribe token names, when it was made with this secret; otherwise undefined. */
  subscriptionOf(token: string): { userId: string; topic: string } | undefined {
    const [payload, mac, ...rest] = token.split('.');
    if (rest.length > 0 || !payload || mac === undefined || !this.signed(UNSUBSCRIBE_PURPOSE + payload, mac)) return undefined;
    // Only a payload this secret signed is read: the JSON `unsubscribeLink` wrote.
    const [userId, topic] = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as [string, string];
    return { userId, topic };
  }

  /** Whether `mac` is this secret's of `signedText`, compared in constant time. */
  private signed(signedText: string, mac: string): boolean {
    const expected = Buffer.from(this.mac(signedText));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private mac(signedText: string): string {
    return createHmac('sha256', this.secret).update(signedText).digest().subarray(0, MAC_BYTES).toString('base64url');
  }
}
