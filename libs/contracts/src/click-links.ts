import { createHmac, timingSafeEqual } from 'node:crypto';

/** The path of a tracked link (contract §6): `GET /c/{token}` records a click and redirects. */
export const CLICK_PATH = '/c';

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
    const expected = Buffer.from(this.mac(deliveryId));
    const given = Buffer.from(mac);
    return given.length === expected.length && timingSafeEqual(given, expected) ? deliveryId : undefined;
  }

  private mac(deliveryId: string): string {
    return createHmac('sha256', this.secret).update(deliveryId).digest().subarray(0, MAC_BYTES).toString('base64url');
  }
}
