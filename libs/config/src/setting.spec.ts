import { z } from 'zod';
import { loadChannelWorkerConfig } from './apps/channel-worker';
import { loadMessageCenterConfig } from './apps/message-center';
import { loadQueryApiConfig } from './apps/query-api';
import { loadRealtimeGatewayConfig } from './apps/realtime-gateway';
import { loadSchedulerConfig } from './apps/scheduler';
import { ConfigError, loadConfig, setting } from './setting';
import { DEFAULT_DATABASE_URL, DEFAULT_KAFKA_BROKERS, kafkaSettings } from './shared';
import { bool, list } from './types';

const JWT_SECRET = 'a-development-secret-of-32-chars';
const PUBLIC_KEY = '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n';

/** Runs a loader expected to fail and returns its ConfigError. */
function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the configuration loaded');
}

describe('loadConfig', () => {
  const settings = {
    port: setting('TEST_PORT', z.coerce.number().int().default(8080), 'a port'),
    name: setting('TEST_NAME', z.string().min(3).default('notify'), 'a name'),
    token: setting('TEST_TOKEN', z.string().min(10).optional(), 'a token', { sensitive: true }),
  };

  it('applies the defaults when the environment is empty', () => {
    expect(loadConfig('test', settings, {})).toEqual({ port: 8080, name: 'notify', token: undefined });
  });

  it('reads only the environment it is given', () => {
    expect(loadConfig('test', settings, { TEST_PORT: '9000', TEST_NAME: 'center' })).toEqual({
      port: 9000,
      name: 'center',
      token: undefined,
    });
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig('test', settings, {}))).toBe(true);
  });

  it('treats an empty string as unset', () => {
    expect(loadConfig('test', settings, { TEST_PORT: '', TEST_NAME: '', TEST_TOKEN: '' })).toEqual({
      port: 8080,
      name: 'notify',
      token: undefined,
    });
  });

  it('lists every bad variable in one error, naming the app', () => {
    const error = configError(() => loadConfig('test', settings, { TEST_PORT: 'eighty', TEST_NAME: 'x' }));
    expect(error.name).toBe('ConfigError');
    expect(error.app).toBe('test');
    expect(error.problems).toHaveLength(2);
    expect(error.problems[0]).toMatch(/^TEST_PORT: .*\(got "eighty"\)$/);
    expect(error.problems[1]).toMatch(/^TEST_NAME: .*\(got "x"\)$/);
    expect(error.message).toContain('test: invalid configuration');
    expect(error.message).toContain('TEST_PORT');
    expect(error.message).toContain('TEST_NAME');
  });

  it('shows a bad value only when it cannot carry a secret: not a URL, a host with a password, or anything long', () => {
    const urls = { url: setting('TEST_URL', z.url(), 'a URL'), host: setting('TEST_HOST', z.string().regex(/^[a-z.]+$/), 'a host') };
    const error = configError(() => loadConfig('test', urls, { TEST_URL: 'sms.example.com/send?apikey=SECRET123', TEST_HOST: 'user:pw@smtp.example.com' }));
    expect(error.problems.map((p) => p.split(':')[0])).toEqual(['TEST_URL', 'TEST_HOST']);
    expect(error.message).not.toMatch(/SECRET123|pw@/);
    expect(error.message).not.toContain('got');
    // An API key pasted into the wrong variable: word characters only, but long.
    const key = configError(() => loadConfig('test', urls, { TEST_HOST: '9f2c4e1ab37d44c08e5a6b0d2f9c7e31' }));
    expect(key.message).not.toContain('9f2c4e1ab37d44c08e5a6b0d2f9c7e31');
  });

  it('names a bad sensitive variable without showing its value', () => {
    const error = configError(() => loadConfig('test', settings, { TEST_TOKEN: 's3cr3t' }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^TEST_TOKEN: /);
    expect(error.message).not.toContain('s3cr3t');
  });

  it('runs the cross checks on the parsed values and reports what they find', () => {
    const seen: unknown[] = [];
    const error = configError(() =>
      loadConfig('test', settings, { TEST_PORT: '81' }, [
        (config) => {
          seen.push(config.port);
          return config.port < 1024 ? ['TEST_PORT must not be a privileged port'] : [];
        },
        () => ['second rule broken'],
      ]),
    );
    expect(seen).toEqual([81]);
    expect(error.problems).toEqual(['TEST_PORT must not be a privileged port', 'second rule broken']);
  });

  it('passes when every cross check returns no problem', () => {
    expect(loadConfig('test', settings, {}, [() => []]).port).toBe(8080);
  });
});

describe('setting types', () => {
  const flags = { ssl: setting('TEST_SSL', bool(false), 'a flag'), on: setting('TEST_ON', bool(true), 'a flag') };
  const lists = { hosts: setting('TEST_HOSTS', list('a:1,b:2'), 'a list') };

  it.each([
    ['true', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['no', false],
  ])('parses the boolean %s', (raw, expected) => {
    expect(loadConfig('test', flags, { TEST_SSL: raw, TEST_ON: raw })).toEqual({ ssl: expected, on: expected });
  });

  it('uses the boolean defaults', () => {
    expect(loadConfig('test', flags, {})).toEqual({ ssl: false, on: true });
  });

  it('rejects a word that is not a boolean', () => {
    const error = configError(() => loadConfig('test', flags, { TEST_SSL: 'maybe' }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^TEST_SSL: .*\(got "maybe"\)$/);
  });

  it('splits a list on commas, trimming blanks and dropping empty items', () => {
    expect(loadConfig('test', lists, { TEST_HOSTS: ' kafka-1:9092 , kafka-2:9092,, ' }).hosts).toEqual([
      'kafka-1:9092',
      'kafka-2:9092',
    ]);
  });

  it('splits the default of a list', () => {
    expect(loadConfig('test', lists, {}).hosts).toEqual(['a:1', 'b:2']);
  });
});

describe('per-app loaders', () => {
  describe('realtime gateway', () => {
    it('refuses an edge gateway without the cluster adapter: nothing would reach its connections live', () => {
      expect(configError(() => loadRealtimeGatewayConfig({ JWT_SECRET, GATEWAY_DELIVERY_CONSUMER: 'false', GATEWAY_CLUSTER_ADAPTER: 'none' })).problems).toEqual([
        expect.stringMatching(/^GATEWAY_DELIVERY_CONSUMER=false needs GATEWAY_CLUSTER_ADAPTER=postgres/),
      ]);
      expect(loadRealtimeGatewayConfig({ JWT_SECRET, GATEWAY_DELIVERY_CONSUMER: 'false' }).deliveryConsumer).toBe(false);
    });

    it('applies the defaults when only the JWT secret is set', () => {
      const config = loadRealtimeGatewayConfig({ JWT_SECRET });
      expect(config.httpPort).toBe(3000);
      expect(config.kafkaBrokers).toEqual(['127.0.0.1:9092']);
      expect(config.kafkaSsl).toBe(false);
      expect(config.kafkaSaslMechanism).toBeUndefined();
      expect(config.databaseUrl).toBe(DEFAULT_DATABASE_URL);
      expect(config.databasePoolSize).toBe(10);
      expect(config.logLevel).toBe('info');
      expect(config.allowedOrigins).toEqual([]);
      expect(config.ackTimeoutMs).toBe(10_000);
      expect(config.maxHttpBufferSize).toBe(32 * 1024);
      expect(config.consumerGroup).toBe('notify.realtime-gateway');
      expect(config.jwtSecret).toBe(JWT_SECRET);
      expect(config.jwtPublicKey).toBeUndefined();
    });

    it("refuses an acknowledgement timeout over 10 minutes: a relayed acknowledgement waits a second longer, and past a timer's reach it would fire at once", () => {
      for (const tooLong of ['600001', '2147483647', '3000000000']) {
        const error = configError(() => loadRealtimeGatewayConfig({ JWT_SECRET, GATEWAY_ACK_TIMEOUT_MS: tooLong }));
        expect(error.problems).toEqual([expect.stringMatching(/^GATEWAY_ACK_TIMEOUT_MS: at most 600000/)]);
      }
      expect(loadRealtimeGatewayConfig({ JWT_SECRET, GATEWAY_ACK_TIMEOUT_MS: '600000' }).ackTimeoutMs).toBe(600_000);
    });

    it('needs the public address of tracked links with their secret: a default would send every link to loopback', () => {
      const secret = 'a-click-secret-of-at-least-32-characters';
      expect(configError(() => loadRealtimeGatewayConfig({ JWT_SECRET, CLICK_SECRET: secret })).problems).toEqual([expect.stringMatching(/^CLICK_BASE_URL is required when CLICK_SECRET is set/)]);
      expect(loadRealtimeGatewayConfig({ JWT_SECRET, CLICK_SECRET: secret, CLICK_BASE_URL: 'https://notify.example' }).clickBaseUrl).toBe('https://notify.example');
    });

    it('refuses a public address of tracked links with a query or a fragment, after which every link would lead nowhere', () => {
      const secret = 'a-click-secret-of-at-least-32-characters';
      for (const base of ['https://notify.example/?a=1', 'https://notify.example/#top']) {
        expect(configError(() => loadRealtimeGatewayConfig({ JWT_SECRET, CLICK_SECRET: secret, CLICK_BASE_URL: base })).problems).toContainEqual(
          expect.stringMatching(/^CLICK_BASE_URL: without a query or a fragment/),
        );
      }
      expect(loadRealtimeGatewayConfig({ JWT_SECRET, CLICK_SECRET: secret, CLICK_BASE_URL: 'https://notify.example/notify' }).clickBaseUrl).toBe('https://notify.example/notify');
    });

    it('requires JWT_SECRET or JWT_PUBLIC_KEY', () => {
      const error = configError(() => loadRealtimeGatewayConfig({}));
      expect(error.app).toBe('realtime-gateway');
      expect(error.problems).toEqual(['JWT_SECRET or JWT_PUBLIC_KEY is required']);
    });

    it('treats an empty JWT_SECRET as missing', () => {
      const error = configError(() => loadRealtimeGatewayConfig({ JWT_SECRET: '', JWT_PUBLIC_KEY: '' }));
      expect(error.problems).toEqual(['JWT_SECRET or JWT_PUBLIC_KEY is required']);
    });

    it('accepts a public key instead of a secret', () => {
      const config = loadRealtimeGatewayConfig({ JWT_PUBLIC_KEY: PUBLIC_KEY });
      expect(config.jwtPublicKey).toBe(PUBLIC_KEY);
      expect(config.jwtSecret).toBeUndefined();
    });

    it('accepts a PKCS#1 public key', () => {
      const pkcs1 = '-----BEGIN RSA PUBLIC KEY-----\nMIIBCgKCAQEA\n-----END RSA PUBLIC KEY-----\n';
      expect(loadRealtimeGatewayConfig({ JWT_PUBLIC_KEY: pkcs1 }).jwtPublicKey).toBe(pkcs1);
    });

    it('rejects a public key that is not a PEM public key, without showing what it got (the private key, pasted by mistake)', () => {
      const privateKey = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n';
      const error = configError(() => loadRealtimeGatewayConfig({ JWT_PUBLIC_KEY: privateKey }));
      expect(error.problems).toEqual([expect.stringMatching(/^JWT_PUBLIC_KEY: /)]);
      expect(error.message).not.toContain('MIIEvQIBADANBg');
    });

    it('parses the allowed origins as a list', () => {
      const config = loadRealtimeGatewayConfig({
        JWT_SECRET,
        GATEWAY_ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com',
      });
      expect(config.allowedOrigins).toEqual(['https://app.example.com', 'https://admin.example.com']);
    });

    it('takes each allowed origin as browsers send it, and refuses an entry that is no origin', () => {
      const config = loadRealtimeGatewayConfig({ JWT_SECRET, GATEWAY_ALLOWED_ORIGINS: 'https://App.example.com/,https://app.example.com:443,http://localhost:8080' });
      expect(config.allowedOrigins).toEqual(['https://app.example.com', 'https://app.example.com', 'http://localhost:8080']);
      const error = configError(() => loadRealtimeGatewayConfig({ JWT_SECRET, GATEWAY_ALLOWED_ORIGINS: 'https://app.example.com/inbox, app.example.com, ftp://files.example.com' }));
      const notAnOrigin = '" is not an origin (http or https, a host, a port at most, no path)';
      expect(error.problems).toEqual([`GATEWAY_ALLOWED_ORIGINS: "https://app.example.com/inbox${notAnOrigin}; "app.example.com${notAnOrigin}; "ftp://files.example.com${notAnOrigin}`]);
    });

    it('lists all of several bad variables at once, hiding only the sensitive values', () => {
      const error = configError(() =>
        loadRealtimeGatewayConfig({
          GATEWAY_PORT: 'not-a-port',
          KAFKA_SSL: 'sometimes',
          LOG_LEVEL: 'chatty',
          JWT_SECRET: 'hunter2-short',
          DATABASE_URL: 'mysql://admin:db-password-42@db/notify',
          GATEWAY_ACK_TIMEOUT_MS: '-5',
        }),
      );
      expect(error.problems).toHaveLength(6);
      const variables = error.problems.map((p) => p.split(':')[0]).sort();
      expect(variables).toEqual(
        ['DATABASE_URL', 'GATEWAY_ACK_TIMEOUT_MS', 'GATEWAY_PORT', 'JWT_SECRET', 'KAFKA_SSL', 'LOG_LEVEL'].sort(),
      );
      expect(error.message).toContain('(got "not-a-port")');
      expect(error.message).toContain('(got "sometimes")');
      expect(error.message).toContain('(got "chatty")');
      expect(error.message).toContain('(got "-5")');
      expect(error.message).not.toContain('hunter2-short');
      expect(error.message).not.toContain('db-password-42');
      expect(error.message).not.toContain('mysql://');
      expect(error.problems.join('\n')).not.toContain('db-password-42');
    });

    it('rejects a port out of range', () => {
      const error = configError(() => loadRealtimeGatewayConfig({ JWT_SECRET, GATEWAY_PORT: '70000' }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^GATEWAY_PORT: .*\(got "70000"\)$/);
    });

    it('refuses a frame limit smaller than the largest valid client request', () => {
      const error = configError(() => loadRealtimeGatewayConfig({ JWT_SECRET, GATEWAY_MAX_HTTP_BUFFER_SIZE: '16384' }));
      expect(error.problems).toEqual([expect.stringMatching(/^GATEWAY_MAX_HTTP_BUFFER_SIZE must be at least \d+/)]);
      expect(loadRealtimeGatewayConfig({ JWT_SECRET, GATEWAY_MAX_HTTP_BUFFER_SIZE: '20000' }).maxHttpBufferSize).toBe(20_000);
    });
  });

  describe('query API', () => {
    it('applies the defaults when the environment is empty', () => {
      const config = loadQueryApiConfig({});
      expect(config.grpcPort).toBe(50051);
      expect(config.httpPort).toBe(3001);
      expect(config.grpcHost).toBe('0.0.0.0');
      expect(config.databaseUrl).toBe(DEFAULT_DATABASE_URL);
      expect(config.bootstrapApiKey).toBeUndefined();
    });

    it('hides a bad bootstrap API key', () => {
      const error = configError(() => loadQueryApiConfig({ BOOTSTRAP_API_KEY: 'clé secrète' }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^BOOTSTRAP_API_KEY: /);
      expect(error.message).not.toContain('secrète');
    });

    it('accepts a bootstrap API key of any length a client can send (contract §7 sets none)', () => {
      expect(loadQueryApiConfig({ BOOTSTRAP_API_KEY: 'test-key' }).bootstrapApiKey).toBe('test-key');
      expect(loadQueryApiConfig({ BOOTSTRAP_API_KEY: 'team bootstrap key 2026' }).bootstrapApiKey).toBe('team bootstrap key 2026');
    });

    it('accepts a postgresql:// connection string', () => {
      const url = 'postgresql://notify:pw@db.internal:5433/notify';
      expect(loadQueryApiConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    });
  });

  describe('message center', () => {
    it('applies the defaults when the environment is empty', () => {
      const config = loadMessageCenterConfig({});
      expect(config.httpPort).toBe(3002);
      expect(config.kafkaBrokers).toEqual([DEFAULT_KAFKA_BROKERS]);
      expect(config.databaseUrl).toBe(DEFAULT_DATABASE_URL);
      expect(config.routesFile).toBe('config/routes.yaml');
      expect(config.consumerGroup).toBe('notify.message-center');
      expect(config.maxBatchBytes).toBe(1024 * 1024);
    });

    it('leaves the replication factor of the topics it creates to the cluster unless one is set', () => {
      // Unset, ensureTopics picks it from the brokers up (replicationFactorFor): a default of 1 here
      // would make every topic of a production cluster live on one broker's disk.
      expect(loadMessageCenterConfig({}).kafkaReplicationFactor).toBeUndefined();
      expect(loadMessageCenterConfig({ KAFKA_REPLICATION_FACTOR: '2' }).kafkaReplicationFactor).toBe(2);
    });

    it('parses several brokers', () => {
      expect(loadMessageCenterConfig({ KAFKA_BROKERS: 'k1:9092,k2:9093' }).kafkaBrokers).toEqual(['k1:9092', 'k2:9093']);
    });

    it('rejects a broker list with no broker in it', () => {
      const error = configError(() => loadMessageCenterConfig({ KAFKA_BROKERS: ' , ' }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^KAFKA_BROKERS: at least one broker/);
    });

    it.each(['kafka', 'PLAINTEXT://k2:9092', 'k3:70000'])('rejects a broker that is not host:port, naming it: %s', (broker) => {
      const error = configError(() => loadMessageCenterConfig({ KAFKA_BROKERS: `k1:9092,[::1]:9092,${broker}` }));
      expect(error.problems).toEqual([`KAFKA_BROKERS: "${broker}" is not host:port`]);
    });

    it('rejects a broker with credentials in it by its place in the list, without showing them', () => {
      const error = configError(() => loadMessageCenterConfig({ KAFKA_BROKERS: 'k1:9092,app:s3cret@kafka-1:9093' }));
      expect(error.problems).toEqual(['KAFKA_BROKERS: entry 2 (not shown: it holds an @, as credentials do) is not host:port']);
      expect(error.message).not.toContain('s3cret');
    });

    it('rejects a connection string whose password is not percent-encoded, without showing it', () => {
      const error = configError(() => loadMessageCenterConfig({ DATABASE_URL: 'postgres://notify:100%@db:5432/notify' }));
      expect(error.problems).toEqual([expect.stringMatching(/^DATABASE_URL: its user and password must be percent-encoded/)]);
      expect(error.message).not.toContain('100%');
      expect(loadMessageCenterConfig({ DATABASE_URL: 'postgres://notify:100%25@db:5432/notify' }).databaseUrl).toBe('postgres://notify:100%25@db:5432/notify');
    });
  });

  describe('channel worker', () => {
    it('applies the defaults when the environment is empty', () => {
      const config = loadChannelWorkerConfig({});
      expect(config.httpPort).toBe(3003);
      expect(config.kafkaBrokers).toEqual(['127.0.0.1:9092']);
      expect(config.maxBatchBytes).toBe(1024 * 1024);
    });

    it('refuses a fetch per partition under 1 MiB, which a record the platform writes may not fit, naming the variable', () => {
      // Over the limit, the broker hands a record only to the first partition of a fetch (KIP-74):
      // a partition whose next record is larger waited behind a busy one on the same broker.
      for (const under of ['1048575', '262144', '0']) {
        expect(configError(() => loadChannelWorkerConfig({ CHANNEL_WORKER_MAX_BATCH_BYTES: under })).problems).toEqual([
          `CHANNEL_WORKER_MAX_BATCH_BYTES: at least 1048576 (1 MiB, the broker's default max.message.bytes) (got "${under}")`,
        ]);
      }
      expect(loadChannelWorkerConfig({ CHANNEL_WORKER_MAX_BATCH_BYTES: '1048576' }).maxBatchBytes).toBe(1_048_576);
      expect(loadChannelWorkerConfig({ CHANNEL_WORKER_MAX_BATCH_BYTES: '4194304' }).maxBatchBytes).toBe(4_194_304);
    });

    it('refuses a configuration retry wait past a day, the longest wait before any re-send', () => {
      expect(loadChannelWorkerConfig({ CHANNEL_WORKER_CONFIGURATION_RETRY_MS: '86400000' }).configurationRetryMs).toBe(86_400_000);
      expect(configError(() => loadChannelWorkerConfig({ CHANNEL_WORKER_CONFIGURATION_RETRY_MS: '172800000' })).problems).toEqual([
        expect.stringMatching(/^CHANNEL_WORKER_CONFIGURATION_RETRY_MS: at most 86400000 \(a day\)/),
      ]);
    });

    it.each([
      ['mail.example.com:465', 'false', /^SMTP_HOST names port 465, which takes TLS from the first byte: set SMTP_SECURE=true/],
      ['mail.example.com', 'true', /^SMTP_SECURE=true on port 587, which starts in plain text/],
    ])('refuses an SMTP server %s with SMTP_SECURE=%s, the other TLS mode of its port', (host, secure, problem) => {
      const env = { EMAIL_DRIVER: 'smtp', SMTP_HOST: host, SMTP_SECURE: secure, SMTP_FROM: 'Notify <notify@example.com>' };
      expect(configError(() => loadChannelWorkerConfig(env)).problems).toEqual([expect.stringMatching(problem)]);
      expect(loadChannelWorkerConfig({ ...env, SMTP_SECURE: secure === 'true' ? 'false' : 'true' }).smtpSecure).toBe(secure !== 'true');
    });

    it.each(['Notify Team', 'noreply', 'Notify <noreply>', 'notify@', 'Notify <notify@example.com'])('refuses SMTP_FROM %j, which holds no address mail could be sent from', (from) => {
      const env = { EMAIL_DRIVER: 'smtp', SMTP_HOST: 'mail.example.com', SMTP_FROM: from };
      expect(configError(() => loadChannelWorkerConfig(env)).problems).toEqual(expect.arrayContaining([expect.stringMatching(/^SMTP_FROM: must be an email address/)]));
    });

    it.each(['notify@example.com', 'Notify <notify@example.com>', '"Shop, Inc." <orders@shop.example>', '"Alerts <prod>" <alerts@example.com>', '<notify@example.com>', 'noreply@localhost', 'ops@bücher.example'])('takes SMTP_FROM %j', (from) => {
      expect(loadChannelWorkerConfig({ EMAIL_DRIVER: 'smtp', SMTP_HOST: 'mail.example.com', SMTP_FROM: from }).smtpFrom).toBe(from);
    });

    it('rejects a provider URL without its scheme, a Twilio callback host with an underscore, and waits beyond a send’s lease', () => {
      const error = configError(() =>
        loadChannelWorkerConfig({
          SMS_HTTP_URL: 'sms-gw:8080/send',
          SMS_TWILIO_STATUS_CALLBACK_URL: 'https://sms_hooks.example.com/cb',
          SMS_ALIYUN_BASE_URL: 'dysmsapi.example.com/sms',
          EMAIL_LIMITS: '{"timeoutMs":3000000000}',
          SMS_LIMITS: '{"maxRateWaitMs":600000}',
        }),
      );
      expect(error.problems).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^SMS_HTTP_URL: an http or https URL/),
          expect.stringMatching(/^SMS_TWILIO_STATUS_CALLBACK_URL: a host without underscores/),
          expect.stringMatching(/^SMS_ALIYUN_BASE_URL: an http or https URL/),
          expect.stringMatching(/^EMAIL_LIMITS: .*<=300000/),
          expect.stringMatching(/^SMS_LIMITS: .*<=300000/),
        ]),
      );
      expect(error.problems).toHaveLength(5);
      // A callback without its scheme is named as such, not a crash of the check after it.
      expect(configError(() => loadChannelWorkerConfig({ SMS_TWILIO_STATUS_CALLBACK_URL: 'hooks.example.com/twilio' })).problems).toEqual([
        expect.stringMatching(/^SMS_TWILIO_STATUS_CALLBACK_URL: an http or https URL/),
      ]);
    });
  });

  describe('scheduler', () => {
    it('applies the defaults when the environment is empty', () => {
      const config = loadSchedulerConfig({});
      expect(config.httpPort).toBe(3004);
      expect(config.databaseUrl).toBe(DEFAULT_DATABASE_URL);
    });

    it('reads its port from SCHEDULER_PORT', () => {
      expect(loadSchedulerConfig({ SCHEDULER_PORT: '4004' }).httpPort).toBe(4004);
    });
  });

  describe('millisecond floors', () => {
    // Seconds written for milliseconds loaded: GATEWAY_ACK_TIMEOUT_MS=30 failed every browser delivery with ack_timeout.
    const floors = [
      ['GATEWAY_ACK_TIMEOUT_MS', 1_000, (env: NodeJS.ProcessEnv) => loadRealtimeGatewayConfig({ JWT_SECRET, ...env }).ackTimeoutMs],
      ['GATEWAY_OUTCOME_GRACE_MS', 1_000, (env: NodeJS.ProcessEnv) => loadRealtimeGatewayConfig({ JWT_SECRET, ...env }).outcomeGraceMs],
      ['SCHEDULER_POLL_INTERVAL_MS', 50, (env: NodeJS.ProcessEnv) => loadSchedulerConfig(env).pollIntervalMs],
      ['SCHEDULER_RESEND_LEASE_MS', 10_000, (env: NodeJS.ProcessEnv) => loadSchedulerConfig(env).resendLeaseMs],
      ['SCHEDULER_OUTBOX_RELAY_AFTER_MS', 60_000, (env: NodeJS.ProcessEnv) => loadSchedulerConfig(env).outboxRelayAfterMs],
      ['CHANNEL_WORKER_CONFIGURATION_RETRY_MS', 1_000, (env: NodeJS.ProcessEnv) => loadChannelWorkerConfig(env).configurationRetryMs],
    ] as const;

    it.each(floors)('refuses %s under %p, naming the variable, and loads the floor itself', (variable, floor, load) => {
      for (const under of [String(floor - 1), '30', '0']) {
        expect(configError(() => load({ [variable]: under })).problems).toEqual([`${variable}: at least ${floor} ms (a value in seconds?) (got "${under}")`]);
      }
      expect(load({ [variable]: String(floor) })).toBe(floor);
    });

    it.each(['timeoutMs', 'breakerHalfOpenAfterMs'])('refuses a provider %s under a second, naming the variable and the field, and loads a second', (field) => {
      for (const under of [999, 30]) {
        expect(configError(() => loadChannelWorkerConfig({ EMAIL_LIMITS: JSON.stringify({ [field]: under }) })).problems).toEqual([
          `EMAIL_LIMITS: ${field}: at least 1000 ms (a value in seconds?)`,
        ]);
      }
      expect(loadChannelWorkerConfig({ SMS_LIMITS: JSON.stringify({ [field]: 1_000 }) }).smsLimits).toEqual({ [field]: 1_000 });
    });
  });

  describe('Kafka SASL', () => {
    const loaders = [
      ['message-center', loadMessageCenterConfig],
      ['channel-worker', loadChannelWorkerConfig],
      ['scheduler', loadSchedulerConfig],
      ['realtime-gateway', (env: NodeJS.ProcessEnv) => loadRealtimeGatewayConfig({ JWT_SECRET, ...env })],
    ] as const;

    it.each(loaders)('%s requires a user and a password when a mechanism is set', (app, load) => {
      const error = configError(() =>
        load({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_PASSWORD: 'kafka-password-99' }),
      );
      expect(error.app).toBe(app);
      expect(error.problems).toEqual([
        'KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required when KAFKA_SASL_MECHANISM is set',
      ]);
      expect(error.message).not.toContain('kafka-password-99');
    });

    it.each(loaders)('%s requires a password when a mechanism and a user are set', (_app, load) => {
      const error = configError(() => load({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'notify' }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toContain('KAFKA_SASL_PASSWORD');
    });

    it.each(loaders)('%s requires a mechanism when a user or a password is set', (_app, load) => {
      const error = configError(() => load({ KAFKA_SASL_USERNAME: 'notify', KAFKA_SASL_PASSWORD: 'kafka-password-99' }));
      expect(error.problems).toEqual(['KAFKA_SASL_MECHANISM is required when KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set']);
      expect(error.message).not.toContain('kafka-password-99');
    });

    it.each(loaders)('%s treats an empty password as missing', (_app, load) => {
      const error = configError(() =>
        load({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'notify', KAFKA_SASL_PASSWORD: '' }),
      );
      expect(error.problems).toHaveLength(1);
    });

    it.each(loaders)('%s accepts a complete SASL setting', (_app, load) => {
      const config = load({
        KAFKA_SASL_MECHANISM: 'scram-sha-256',
        KAFKA_SASL_USERNAME: 'notify',
        KAFKA_SASL_PASSWORD: 'kafka-password-99',
        KAFKA_SSL: 'true',
      });
      expect(config.kafkaSaslMechanism).toBe('scram-sha-256');
      expect(config.kafkaSaslUsername).toBe('notify');
      expect(config.kafkaSaslPassword).toBe('kafka-password-99');
      expect(config.kafkaSsl).toBe(true);
    });

    it('rejects an unknown mechanism, showing it', () => {
      const error = configError(() => loadSchedulerConfig({ KAFKA_SASL_MECHANISM: 'kerberos' }));
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatch(/^KAFKA_SASL_MECHANISM: .*\(got "kerberos"\)$/);
    });

    it('marks the SASL password as sensitive', () => {
      expect(kafkaSettings.kafkaSaslPassword.sensitive).toBe(true);
      expect(kafkaSettings.kafkaSaslUsername.sensitive).toBe(false);
    });
  });
});
