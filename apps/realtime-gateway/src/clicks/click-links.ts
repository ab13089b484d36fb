/** The gateway's `ClickLinks`, or null when clicks are not tracked (no `CLICK_SECRET`). */
export const CLICK_LINKS = Symbol('CLICK_LINKS');
