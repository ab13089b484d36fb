import { silentLog, systemClock, type EmailChannelProvider } from '../ports';
import { LogEmailProvider } from '../providers/log';
import { SmtpProvider } from '../providers/smtp';
import { parseChannelConfig } from './channel-config-error';
import { guardFor, type ChannelDeps } from './channel-deps';
import { EmailDriverSchema, type EmailDriverConfig } from './email-config';
import { resolveLimits } from './limits-config';
import { resolveSecret } from './secret-source';

/** Builds the email provider `config.driver` names; the SMTP password is read here, once. */
export function createEmailProvider(config: EmailDriverConfig = { driver: 'log' }, deps: ChannelDeps = {}): EmailChannelProvider {
  const parsed = parseChannelConfig('email', EmailDriverSchema, config);
  const clock = deps.clock ?? systemClock;
  switch (parsed.driver) {
    case 'log':
      return new LogEmailProvider(deps.log ?? silentLog, clock);
    case 'smtp': {
      const limits = resolveLimits(parsed.limits);
      const password = parsed.user === undefined ? undefined : resolveSecret('email', 'smtp.password', parsed.password, parsed.passwordFile);
      return new SmtpProvider(
        {
          host: parsed.host,
          port: parsed.port,
          secure: parsed.secure,
          requireTls: parsed.requireTls,
          from: parsed.from,
          maxConnections: parsed.maxConnections,
          maxMessagesPerConnection: parsed.maxMessagesPerConnection,
          allowInvalidCertificates: parsed.allowInvalidCertificates,
          bounceReceipts: parsed.bounceReceipts,
          ...(parsed.returnPath === undefined ? {} : { returnPath: parsed.returnPath }),
          ...(parsed.user === undefined ? {} : { user: parsed.user, password }),
        },
        // No more calls in flight than pooled connections: a mail waiting in nodemailer's own queue
        // would have its timeout running, fail, be sent anyway and then again on its retry.
        guardFor('smtp', { ...limits, concurrency: Math.min(limits.concurrency, parsed.maxConnections) }, deps),
        limits.timeoutMs,
        clock,
      );
    }
  }
}
