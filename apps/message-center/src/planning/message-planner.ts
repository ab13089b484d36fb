import { ErrorCode, linkOf, type Channel, type NotificationRequest } from '@notify/contracts';
import type { PlannedDelivery, PlannedMessage, RecipientDirectory } from '@notify/persistence';
import { pickLocale } from '../routing/locale';
import { channelsOf, type Route } from '../routing/route-table';
import type { LocalizedTemplate } from '../routing/template';
import { endpointsOf, localeCandidatesOf, targetsOf, userIdOf, type Target } from './targets';

export class TemplateRenderError extends Error {
  readonly code = 'template_error';
  override readonly name = 'TemplateRenderError';
}

export interface PlanningContext {
  now: Date;
  newId: (at: Date) => string;
  directory: RecipientDirectory;
  /** MESSAGE_RETENTION_DAYS: no message expires later than this after it was created. */
  retentionDays: number;
}

const DAY_MS = 86_400_000;

/**
 * The end of the retention period of a message created at `createdAt`, in ms since the epoch: it
 * sends nothing and expires no later (its rows may go soon after, `SETTLE_MS`).
 */
export function retentionEnd(createdAt: Date, retentionDays: number): number {
  return createdAt.getTime() + retentionDays * DAY_MS;
}

/**
 * Decides every delivery of one request: who, over which channel, to which endpoint, in which
 * locale, in which fallback tier, and whether it goes now, waits, or cannot go at all.
 */
export function planMessage(request: NotificationRequest, route: Route, context: PlanningContext): PlannedMessage {
  const { now, newId, directory } = context;
  const createdAt = now;
  const sendAt = request.sendAt && new Date(request.sendAt) > now ? new Date(request.sendAt) : null;
  const start = sendAt ?? createdAt;
  // The time to live counts from when the message is to go out. It ends within the retention period,
  // so that every delivery has an outcome before its rows are deleted (SETTLE_MS).
  const wanted = request.expiresAt ? Date.parse(request.expiresAt) : start.getTime() + route.ttlMs;
  const expiresAt = new Date(Math.min(wanted, retentionEnd(createdAt, context.retentionDays)));
  const expired = expiresAt <= now;
  const channels = channelsOf(route, request.channels);
  const available = [...route.templates.keys()];

  const deliveries: PlannedDelivery[] = [];
  for (const target of targetsOf(request, directory)) {
    const userId = userIdOf(target);
    let tier = 0;
    for (const channel of channels) {
      const endpoints = endpointsOf(target, channel, request.locale, directory);
      if (endpoints.length === 0) {
        const locale = pickLocale(localeCandidatesOf(target, request.locale, directory), available, route.defaultLocale);
        deliveries.push(unreachable(newId(createdAt), target, channel, expired, locale));
        continue;
      }
      const escalated = route.fallback.policy === 'escalate' && tier > 0;
      for (const { endpoint, localeCandidates } of endpoints) {
        deliveries.push({
          id: newId(createdAt),
          userId,
          channel,
          endpoint,
          locale: pickLocale(localeCandidates, available, route.defaultLocale),
          tier: route.fallback.policy === 'escalate' ? tier : 0,
          status: expired ? 'expired' : escalated || sendAt ? 'held' : 'queued',
          lastError: null,
          nextAttemptAt: expired ? null : escalated ? escalationTime(start, route, tier) : sendAt,
        });
      }
      tier++;
    }
  }

  const locales = [...new Set(deliveries.map((d) => d.locale))];
  return {
    id: newId(createdAt),
    requestId: request.id,
    type: request.type,
    recipient: request.to,
    data: request.data ?? {},
    locale: request.locale ?? null,
    priority: request.priority ?? route.priority,
    retry: route.retry,
    sendAt,
    expiresAt,
    createdAt,
    contents: locales.map((locale) => ({ locale, ...render(request, route, locale) })),
    deliveries,
    inbox: deliveries
      .filter((d) => d.channel === 'websocket' && d.status === 'queued' && d.userId !== null)
      .map((d) => ({ userId: d.userId!, locale: d.locale })),
  };
}

/** A target the channel has no endpoint for: recorded as an outcome, never silently dropped. */
function unreachable(id: string, target: Target, channel: Channel, expired: boolean, locale: string): PlannedDelivery {
  const userId = userIdOf(target);
  return {
    id,
    userId,
    channel,
    endpoint: `none:${userId ?? target.kind}`,
    locale,
    tier: 0,
    status: expired ? 'expired' : 'dead',
    lastError: ErrorCode.NoEndpoint,
    nextAttemptAt: null,
  };
}

/** Tier n is released this long after the start unless the tiers before it delivered; null: only on their failure. */
function escalationTime(start: Date, route: Route, tier: number): Date | null {
  return route.fallback.afterMs === null ? null : new Date(start.getTime() + route.fallback.afterMs * tier);
}

function render(request: NotificationRequest, route: Route, locale: string): { title: string; body: string; url?: string } {
  const template = route.templates.get(locale);
  const rendered = template ? renderTemplate(template, request, route, locale) : (request.content ?? {});
  const { title = '', body = '' } = rendered;
  // A template without a link of its own leads where the request's content says: the link differs
  // per request (an order's page), and dropped, it was checked and then lost without a word.
  const url = rendered.url ?? request.content?.url;
  if (url === undefined) return { title, body };
  // The request's link was checked with the request; a template's only now that it is rendered.
  const link = linkOf(url);
  if (link === undefined) throw new TemplateRenderError(`template ${route.type}/${locale}: url: not an http or https URL of at most 2048 characters`);
  // Stored as the address it is read as: a space or a newline from the data around it is not kept.
  return { title, body, url: new URL(link).href };
}

/**
 * The most a template's rendering (title, body and link) may take as JSON: 512 KiB. Every delivery
 * job carries it beside the request's `data` (at most 64 KiB); a template that repeats a large
 * variable could render a job past the broker's 1 MiB record limit, refused at each produce, and
 * its batch, stored and then replayed, would stop the message center for good.
 */
export const MAX_RENDERED_BYTES = 512 * 1024;

function renderTemplate(template: LocalizedTemplate, request: NotificationRequest, route: Route, locale: string): { title: string; body: string; url?: string } {
  let rendered: { title: string; body: string; url?: string };
  try {
    rendered = template.render(request.data ?? {});
  } catch (error) {
    throw new TemplateRenderError(`template ${route.type}/${locale}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const bytes = jsonBytesOver(MAX_RENDERED_BYTES, rendered.title, rendered.body, rendered.url ?? '');
  if (bytes !== undefined) throw new TemplateRenderError(`template ${route.type}/${locale}: renders ${bytes} bytes of title, body and link, more than the ${MAX_RENDERED_BYTES} a message may take`);
  return rendered;
}

/** The texts' size as JSON strings when it is over `limit`, else undefined (at most 6 bytes a UTF-16 unit: measured only when that bound is over). */
function jsonBytesOver(limit: number, ...texts: string[]): number | undefined {
  const units = texts.reduce((sum, text) => sum + text.length, 0);
  if (units * 6 <= limit) return undefined;
  const bytes = texts.reduce((sum, text) => sum + Buffer.byteLength(JSON.stringify(text)), 0);
  return bytes > limit ? bytes : undefined;
}
