import type { EmailDriverConfig, PushChannelConfig, PushDriverConfig, SmsDriverConfig } from '@notify/channels';
import type { ChannelWorkerConfig } from '@notify/config';

/** Leaves out what is unset, so the adapters' own defaults apply. */
function defined<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The driver for each device vendor, from the PUSH_* variables; `log` unless configured. */
export function pushChannelConfig(c: ChannelWorkerConfig): PushChannelConfig {
  const log: PushDriverConfig = { driver: 'log' };
  return {
    apns:
      c.apnsDriver === 'apns'
        ? defined({
            driver: 'apns' as const,
            baseUrl: c.apnsBaseUrl,
            teamId: c.apnsTeamId ?? '',
            keyId: c.apnsKeyId ?? '',
            topic: c.apnsTopic ?? '',
            signingKey: c.apnsSigningKey,
            signingKeyFile: c.apnsSigningKeyFile,
            limits: c.apnsLimits,
          })
        : log,
    fcm:
      c.fcmDriver === 'fcm'
        ? defined({
            driver: 'fcm' as const,
            baseUrl: c.fcmBaseUrl,
            tokenUrl: c.fcmTokenUrl,
            serviceAccountJson: c.fcmServiceAccountJson,
            serviceAccountFile: c.fcmServiceAccountFile,
            limits: c.fcmLimits,
          })
        : log,
    hms:
      c.hmsDriver === 'hms'
        ? defined({
            driver: 'hms' as const,
            baseUrl: c.hmsBaseUrl,
            tokenUrl: c.hmsTokenUrl,
            appId: c.hmsAppId ?? '',
            appSecret: c.hmsAppSecret,
            appSecretFile: c.hmsAppSecretFile,
            receiptUserName: c.hmsReceiptUserName,
            receiptKey: c.hmsReceiptKey,
            receiptKeyFile: c.hmsReceiptKeyFile,
            category: c.hmsCategory,
            limits: c.hmsLimits,
          })
        : log,
    xiaomi:
      c.xiaomiDriver === 'xiaomi'
        ? defined({
            driver: 'xiaomi' as const,
            baseUrl: c.xiaomiBaseUrl,
            packageName: c.xiaomiPackageName ?? '',
            channelId: c.xiaomiChannelId,
            receiptUrl: c.xiaomiReceiptUrl,
            appSecret: c.xiaomiAppSecret,
            appSecretFile: c.xiaomiAppSecretFile,
            limits: c.xiaomiLimits,
          })
        : log,
  };
}

/** The SMS driver SMS_DRIVER names, from its SMS_* variables. */
export function smsDriverConfig(c: ChannelWorkerConfig): SmsDriverConfig {
  switch (c.smsDriver) {
    case 'log':
      return { driver: 'log' };
    case 'twilio':
      return defined({
        driver: 'twilio' as const,
        baseUrl: c.twilioBaseUrl,
        accountSid: c.twilioAccountSid ?? '',
        authToken: c.twilioAuthToken,
        authTokenFile: c.twilioAuthTokenFile,
        from: c.twilioFrom ?? '',
        statusCallbackUrl: c.twilioStatusCallbackUrl,
        limits: c.smsLimits,
      });
    case 'aliyun':
      return defined({
        driver: 'aliyun' as const,
        baseUrl: c.aliyunBaseUrl,
        accessKeyId: c.aliyunAccessKeyId ?? '',
        accessKeySecret: c.aliyunAccessKeySecret,
        accessKeySecretFile: c.aliyunAccessKeySecretFile,
        regionId: c.aliyunRegionId,
        signName: c.aliyunSignName ?? '',
        templateCode: c.aliyunTemplateCode ?? '',
        bodyParam: c.aliyunBodyParam,
        limits: c.smsLimits,
      });
    case 'http':
      return defined({
        driver: 'http' as const,
        url: c.httpSmsUrl ?? '',
        format: c.httpSmsFormat,
        bodyTemplate: c.httpSmsBodyTemplate ?? '',
        headers: c.httpSmsHeaders,
        headersFile: c.httpSmsHeadersFile,
        from: c.httpSmsFrom,
        messageIdPath: c.httpSmsMessageIdPath,
        limits: c.smsLimits,
      });
  }
}

/** The email driver EMAIL_DRIVER names, from the SMTP_* variables. */
export function emailDriverConfig(c: ChannelWorkerConfig): EmailDriverConfig {
  switch (c.emailDriver) {
    case 'log':
      return { driver: 'log' };
    case 'smtp':
      return defined({
        driver: 'smtp' as const,
        host: c.smtpServer?.host ?? '',
        port: c.smtpServer?.port,
        secure: c.smtpSecure,
        requireTls: c.smtpRequireTls,
        user: c.smtpUser,
        password: c.smtpPassword,
        passwordFile: c.smtpPasswordFile,
        from: c.smtpFrom ?? '',
        maxConnections: c.smtpMaxConnections,
        allowInvalidCertificates: c.smtpAllowInvalidCertificates,
        returnPath: c.smtpReturnPath,
        bounceReceipts: c.smtpBounceReceipts,
        limits: c.emailLimits,
      });
  }
}
