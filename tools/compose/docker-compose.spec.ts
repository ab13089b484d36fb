import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, resolve } from 'node:path';
import { parse } from 'yaml';
import * as notifyConfig from '@notify/config';
import { databaseSettings, loadConfig, type SettingMap } from '@notify/config';
import { commandOf as commandOfApp, PLATFORM_APPS } from '../dev/platform-apps';

/**
 * docker-compose.yml checked against the repo itself: the apps are the directories under apps/
 * with a src/main.ts, each app's settings and loader come from @notify/config (found through the
 * loader its main.ts imports), and the compose environment of each app must load without error.
 */

const ROOT = resolve(__dirname, '../..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');

/** Default ports from the contract (section 7), by app and by the setting that holds the port. */
const CONTRACT_PORTS: Record<string, Record<string, number>> = {
  'realtime-gateway': { httpPort: 3000 },
  'query-api': { httpPort: 3001, grpcPort: 50051 },
  'message-center': { httpPort: 3002 },
  'channel-worker': { httpPort: 3003 },
  scheduler: { httpPort: 3004 },
};

// ---------------------------------------------------------------------------------------------
// Compose helpers

type Env = Record<string, string | undefined>;

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  ports?: (string | number | { target: number; published?: string | number; host_ip?: string })[];
  healthcheck?: { test?: string | string[] };
  restart?: string;
  stop_grace_period?: string;
  volumes?: (string | { type?: string; source?: string; target: string; read_only?: boolean })[];
  env_file?: string | (string | { path: string; required?: boolean })[];
}

interface ComposeFile {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const VARIABLE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

/** Compose interpolation with the given shell environment (empty by default: every `${VAR:-default}` gives its default). */
function interpolate(value: string, shell: Env = {}): string {
  return value.replace(VARIABLE, (match, braced?: string, operator?: string, argument?: string, bare?: string) => {
    if (match === '$$') return '$';
    const name = (braced ?? bare)!;
    const current = shell[name];
    const unset = current === undefined;
    const empty = unset || current === '';
    switch (operator) {
      case undefined:
        return current ?? '';
      case ':-':
        return empty ? argument! : current!;
      case '-':
        return unset ? argument! : current!;
      case ':?':
      case '?':
        if (operator === ':?' ? empty : unset) throw new Error(`${name} is required: ${argument}`);
        return current!;
      case ':+':
        return empty ? '' : argument!;
      case '+':
        return unset ? '' : argument!;
      default:
        throw new Error(`unsupported interpolation ${match}`);
    }
  });
}

/** The shell the README starts compose from: only the secret it requires. */
const SHELL: Env = { JWT_SECRET: 'a-secret-from-the-shell-of-32-chars' };

/** A service's environment as the container sees it (interpolated; a bare `KEY` or `KEY: null` takes the unset shell value). */
function environmentOf(service: Service, shell: Env = SHELL): Env {
  const env: Env = {};
  const raw = service.environment ?? {};
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((line) => {
        const at = line.indexOf('=');
        return at < 0 ? [line, null] : [line.slice(0, at), line.slice(at + 1)];
      })
    : Object.entries(raw);
  for (const [key, value] of entries) {
    env[key] = value === null || value === undefined ? shell[key] : interpolate(String(value), shell);
  }
  return env;
}

function commandOf(service: Service): string[] {
  const command = service.command ?? [];
  return typeof command === 'string' ? command.split(/\s+/).filter(Boolean) : command.map((c) => interpolate(c));
}

function dependsOn(service: Service): Record<string, string> {
  const raw = service.depends_on ?? {};
  if (Array.isArray(raw)) return Object.fromEntries(raw.map((name) => [name, 'service_started']));
  return Object.fromEntries(Object.entries(raw).map(([name, spec]) => [name, spec?.condition ?? 'service_started']));
}

interface PublishedPort {
  host: number;
  container: number;
}

function publishedPorts(service: Service): PublishedPort[] {
  return (service.ports ?? []).map((entry) => {
    if (typeof entry === 'object') {
      return { host: Number(interpolate(String(entry.published ?? entry.target))), container: entry.target };
    }
    const parts = interpolate(String(entry)).replace(/\/(tcp|udp)$/, '').split(':');
    const container = Number(parts[parts.length - 1]);
    const host = parts.length >= 2 ? Number(parts[parts.length - 2]) : container;
    return { host, container };
  });
}

function healthcheckText(service: Service): string {
  const test = service.healthcheck?.test ?? [];
  return typeof test === 'string' ? test : test.join(' ');
}

/** A service's env files, each as its path and whether compose requires it (the short form does). */
function envFilesOf(service: Service): { path: string; required: boolean }[] {
  const raw = service.env_file ?? [];
  return (Array.isArray(raw) ? raw : [raw]).map((entry) =>
    typeof entry === 'string' ? { path: entry, required: true } : { path: entry.path, required: entry.required ?? true },
  );
}

interface Mount {
  type: string;
  source: string;
  target: string;
  readOnly: boolean;
}

/** A service's mounts; the short form `source:target[:ro]` is a bind mount when its source is a path. */
function mountsOf(service: Service): Mount[] {
  return (service.volumes ?? []).map((entry) => {
    if (typeof entry === 'object') return { type: entry.type ?? 'volume', source: entry.source ?? '', target: entry.target, readOnly: entry.read_only ?? false };
    const [source, target, mode] = entry.split(':');
    return { type: /^[./~]/.test(source) ? 'bind' : 'volume', source, target: target ?? source, readOnly: (mode ?? '').split(',').includes('ro') };
  });
}

/** The variables an env file example names, set or commented out (`# NAME=…`). */
function variablesOfExample(path: string): string[] {
  return [...readFileSync(path, 'utf8').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]);
}

function loadCompose(): ComposeFile {
  return parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as ComposeFile;
}

// ---------------------------------------------------------------------------------------------
// The apps, from the repo

/** Directories under apps/ that have a src/main.ts. */
function repoApps(): string[] {
  const appsDir = join(ROOT, 'apps');
  return readdirSync(appsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(appsDir, entry.name, 'src', 'main.ts')))
    .map((entry) => entry.name)
    .sort();
}

interface AppConfigApi {
  loaderName: string;
  settingsName: string;
  load: (env: NodeJS.ProcessEnv) => Record<string, unknown>;
  settings: SettingMap;
}

/** The loader an app's main.ts imports from @notify/config (`loadXConfig`) and its settings (`xSettings`). */
function configApiOf(app: string): AppConfigApi {
  const main = readFileSync(join(ROOT, 'apps', app, 'src', 'main.ts'), 'utf8');
  const loaderName = /\b(load([A-Z]\w*)Config)\b/.exec(main);
  if (!loaderName) throw new Error(`apps/${app}/src/main.ts imports no load…Config from @notify/config`);
  const settingsName = `${loaderName[2][0].toLowerCase()}${loaderName[2].slice(1)}Settings`;
  const exports = notifyConfig as unknown as Record<string, unknown>;
  const load = exports[loaderName[1]];
  const settings = exports[settingsName];
  if (typeof load !== 'function') throw new Error(`@notify/config exports no function ${loaderName[1]}`);
  if (typeof settings !== 'object' || settings === null) throw new Error(`@notify/config exports no ${settingsName}`);
  return {
    loaderName: loaderName[1],
    settingsName,
    load: load as AppConfigApi['load'],
    settings: settings as SettingMap,
  };
}

function settingNames(settings: SettingMap): Set<string> {
  return new Set(Object.values(settings).map((s) => s.env));
}

function settingKeyOf(settings: SettingMap, env: string): string | undefined {
  return Object.entries(settings).find(([, s]) => s.env === env)?.[0];
}

/** The value a setting takes when its variable is unset, or undefined if it has none (or is required). */
function defaultOf(settings: SettingMap, key: string): unknown {
  const parsed = settings[key].schema.safeParse(undefined);
  return parsed.success ? parsed.data : undefined;
}

const APPS = repoApps();
const compose = loadCompose();
const services = compose.services ?? {};

// ---------------------------------------------------------------------------------------------

describe('docker-compose.yml: infrastructure', () => {
  const kafka = services.kafka;
  const kafkaEnv = kafka ? environmentOf(kafka) : {};

  it('runs the official Apache Kafka 4.x image in KRaft combined mode', () => {
    expect(kafka).toBeDefined();
    expect(kafka.image).toMatch(/^apache\/kafka:4\.\d+\.\d+$/);
    const roles = (kafkaEnv.KAFKA_PROCESS_ROLES ?? '').split(',').map((r) => r.trim());
    expect(roles).toEqual(expect.arrayContaining(['broker', 'controller']));
    expect(kafkaEnv.KAFKA_NODE_ID).toBe('1');
    expect(kafkaEnv.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`1@kafka:9093`);
    expect(kafkaEnv.KAFKA_CONTROLLER_LISTENER_NAMES).toBe('CONTROLLER');
    // The storage format tool only takes a base64url-encoded 16-byte UUID.
    expect(kafkaEnv.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(kafkaEnv.CLUSTER_ID!, 'base64url')).toHaveLength(16);
  });

  it('advertises kafka:9092 to containers, with every listener mapped to a protocol', () => {
    const listeners = (kafkaEnv.KAFKA_LISTENERS ?? '').split(',').map((l) => l.split('://')[0]);
    const protocolMap = new Map((kafkaEnv.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP ?? '').split(',').map((p) => p.split(':') as [string, string]));
    for (const listener of listeners) expect(protocolMap.has(listener)).toBe(true);
    const advertised = (kafkaEnv.KAFKA_ADVERTISED_LISTENERS ?? '').split(',').map((l) => l.split('://')[1]);
    expect(advertised).toContain('kafka:9092');
    expect(listeners).toContain(kafkaEnv.KAFKA_INTER_BROKER_LISTENER_NAME);
  });

  it('is a one-node cluster: every replication factor and min ISR is 1, and topics are never created implicitly', () => {
    const oneNode = Object.entries(kafkaEnv).filter(([key]) => /REPLICATION_FACTOR$|MIN_ISR$|MIN_INSYNC_REPLICAS$/.test(key));
    expect(oneNode.map(([key]) => key)).toEqual(
      expect.arrayContaining(['KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR']),
    );
    for (const [key, value] of oneNode) expect([key, value]).toEqual([key, '1']);
    expect(kafkaEnv.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
  });

  it('has a Kafka healthcheck that asks the broker itself', () => {
    expect(healthcheckText(kafka)).toMatch(/kafka-broker-api-versions\.sh --bootstrap-server kafka:9092/);
  });

  it('runs PostgreSQL 17 with the notify database, a pg_isready healthcheck and a named volume', () => {
    const postgres = services.postgres;
    expect(postgres).toBeDefined();
    expect(postgres.image).toMatch(/^postgres:17(\.|$|-)/);
    expect(environmentOf(postgres).POSTGRES_DB).toBe('notify');
    expect(healthcheckText(postgres)).toContain('pg_isready');
    const named = (postgres.volumes ?? [])
      .map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source))
      .filter((source): source is string => !!source && Object.keys(compose.volumes ?? {}).includes(source));
    expect(named).toHaveLength(1);
  });

  it('checks PostgreSQL over TCP: the init server of a fresh volume listens on the Unix socket alone', () => {
    const test = services.postgres?.healthcheck?.test ?? [];
    const args = typeof test === 'string' ? test.split(/\s+/) : test;
    expect(args).toContain('pg_isready');
    expect(args).toContain('-h');
    // A directory is a socket directory: TCP means an address or a name.
    expect(args[args.indexOf('-h') + 1]).toMatch(/^[^/]/);
  });

  it('runs the migrations once, as `npm run migrate` does, after PostgreSQL is healthy', () => {
    const migrate = services.migrate;
    expect(migrate).toBeDefined();
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(commandOf(migrate).join(' ')).toBe(pkg.scripts.migrate);
    expect(dependsOn(migrate)).toEqual({ postgres: 'service_healthy' });
    expect(migrate.restart ?? 'no').toBe('no');
    const env = environmentOf(migrate);
    expect(Object.keys(env).filter((name) => !settingNames(databaseSettings).has(name))).toEqual([]);
    expect(() => loadConfig('migrate', databaseSettings, env)).not.toThrow();
    expect(env.DATABASE_URL).toBeDefined();
  });

  it('gives every service the same DATABASE_URL, pointing at the postgres service with its credentials', () => {
    const pg = environmentOf(services.postgres);
    const urls = Object.entries(services)
      .map(([name, service]) => [name, environmentOf(service).DATABASE_URL] as const)
      .filter(([, url]) => url !== undefined);
    expect(urls.map(([name]) => name)).toContain('migrate');
    for (const [name, raw] of urls) {
      const url = new URL(raw!);
      expect({ name, host: url.host, database: url.pathname, user: url.username, password: url.password }).toEqual({
        name,
        host: 'postgres:5432',
        database: `/${pg.POSTGRES_DB}`,
        user: pg.POSTGRES_USER ?? 'postgres',
        password: pg.POSTGRES_PASSWORD ?? '',
      });
    }
  });
});

describe('docker-compose.yml: the apps', () => {
  it('finds the apps in the repo', () => {
    expect(APPS.length).toBeGreaterThanOrEqual(5);
  });

  it('has a service for every app under apps/, and runs no app that is not there', () => {
    expect(APPS.filter((app) => !services[app])).toEqual([]);
    const mainOf = /^apps\/([^/]+)\/src\/main\.ts$/;
    const runApps = Object.values(services).flatMap((s) => commandOf(s).flatMap((part) => mainOf.exec(part)?.[1] ?? []));
    expect([...new Set(runApps)].sort()).toEqual(APPS);
  });

  it('states the contract default ports in the config schemas too', () => {
    for (const [app, ports] of Object.entries(CONTRACT_PORTS)) {
      const { settings } = configApiOf(app);
      for (const [key, port] of Object.entries(ports)) expect({ app, key, port: defaultOf(settings, key) }).toEqual({ app, key, port });
    }
  });

  describe.each(APPS)('%s', (app) => {
    const service = services[app] ?? {};
    const env = environmentOf(service);
    const api = configApiOf(app);
    const names = settingNames(api.settings);
    const usesKafka = names.has('KAFKA_BROKERS');
    const usesDatabase = names.has('DATABASE_URL');

    it('runs its own main.ts from TypeScript in the platform image', () => {
      const platformApp = PLATFORM_APPS.find((known) => known.name === app);
      expect(commandOf(service)).toEqual(platformApp ? commandOfApp(platformApp) : ['node', '-r', '@swc-node/register', `apps/${app}/src/main.ts`]);
      const build = typeof service.build === 'string' ? { context: service.build } : service.build;
      expect(build?.context).toBe('.');
      expect(existsSync(join(ROOT, build?.dockerfile ?? 'Dockerfile'))).toBe(true);
      expect(service.restart).toBe('unless-stopped');
    });

    it('gets at least its stop grace period here to stop under npm start too', () => {
      const platformApp = PLATFORM_APPS.find((known) => known.name === app);
      // Compose's default is 10 s; a grace period is written in seconds here.
      const graceMs = Number(/^(\d+)s$/.exec(service.stop_grace_period ?? '10s')![1]) * 1000;
      expect(platformApp?.stopWaitMs ?? Infinity).toBeGreaterThanOrEqual(graceMs);
    });

    it('sets only variables the app reads (no typos)', () => {
      expect(Object.keys(env).filter((name) => !names.has(name))).toEqual([]);
    });

    it('passes the settings of its own optional env file, config/env/<app>.env, and of no other app', () => {
      // .env only fills the ${…} of the compose file: without an env file, a provider's settings never reached the container.
      expect(envFilesOf(service)).toEqual([{ path: `./config/env/${app}.env`, required: false }]);
      // Nor through a mount: config/env holds every app's secrets.
      const mounted = mountsOf(service).filter((m) => m.type === 'bind' && posix.relative(posix.normalize(m.source), 'config/env').split('/')[0] !== '..');
      expect(mounted).toEqual([]);
    });

    it('sets every variable that is required, or whose default only works outside a container', () => {
      const needed = Object.entries(api.settings)
        .filter(([key, s]) => {
          const parsed = s.schema.safeParse(undefined);
          return !parsed.success || /127\.0\.0\.1|localhost/.test(JSON.stringify(defaultOf(api.settings, key)) ?? '');
        })
        .map(([, s]) => s.env);
      if (usesKafka) expect(needed).toContain('KAFKA_BROKERS');
      if (usesDatabase) expect(needed).toContain('DATABASE_URL');
      expect(needed.filter((name) => !env[name])).toEqual([]);
    });

    it('loads its configuration from the compose environment', () => {
      let config: Record<string, unknown> = {};
      expect(() => (config = api.load(env))).not.toThrow();
      if (usesKafka) expect(config.kafkaBrokers).toEqual(['kafka:9092']);
      if (usesDatabase) expect(new URL(String(config.databaseUrl)).host).toBe('postgres:5432');
    });

    it('starts after Kafka and PostgreSQL are healthy and the migrations have run', () => {
      const expected: Record<string, string> = {};
      if (usesKafka) expected.kafka = 'service_healthy';
      if (usesDatabase) {
        expected.postgres = 'service_healthy';
        expected.migrate = 'service_completed_successfully';
      }
      expect(dependsOn(service)).toEqual(expected);
    });

    it('publishes its ports at the contract defaults and checks GET /health on its HTTP port', () => {
      const config = api.load(env);
      const portKeys = Object.entries(api.settings)
        .filter(([, s]) => /_PORT$/.test(s.env))
        .map(([key]) => key);
      expect(portKeys).toContain('httpPort');
      const published = publishedPorts(service);
      for (const key of portKeys) {
        const container = config[key];
        const host = CONTRACT_PORTS[app]?.[key] ?? container;
        expect({ key, mapping: published.find((p) => p.container === container) }).toEqual({ key, mapping: { host, container } });
      }
      expect(published).toHaveLength(portKeys.length);
      expect(healthcheckText(service)).toContain(`http://127.0.0.1:${String(config.httpPort)}/health`);
    });
  });
});

/** The apps whose settings include the given variable. */
const appsReading = (name: string): string[] => APPS.filter((app) => settingNames(configApiOf(app).settings).has(name));
const TOKEN_APPS = [...new Set([...appsReading('JWT_SECRET'), ...appsReading('JWT_PUBLIC_KEY')])];
const ROUTE_APPS = appsReading('NOTIFY_ROUTES');

describe('docker-compose.yml: app-specific settings', () => {
  it('finds the apps that check browser tokens and the app that reads the route table', () => {
    expect(TOKEN_APPS).toContain('realtime-gateway');
    expect(ROUTE_APPS).toContain('message-center');
  });

  it.each(TOKEN_APPS)('%s checks browser tokens with JWT_SECRET or JWT_PUBLIC_KEY', (app) => {
    const env = environmentOf(services[app] ?? {});
    expect([env.JWT_SECRET, env.JWT_PUBLIC_KEY].filter(Boolean)).not.toEqual([]);
  });

  it.each(TOKEN_APPS)('%s has no token secret of its own: compose refuses to start it without one from the shell', (app) => {
    expect(() => environmentOf(services[app] ?? {}, {})).toThrow(/^(JWT_SECRET|JWT_PUBLIC_KEY) is required/);
    expect(environmentOf(services[app] ?? {}).JWT_SECRET).toBe(SHELL.JWT_SECRET);
  });

  it.each(appsReading('CLICK_SECRET'))('%s refuses to start with CLICK_SECRET but no CLICK_BASE_URL, instead of sending links no one can open', (app) => {
    const env = environmentOf(services[app] ?? {}, { ...SHELL, CLICK_SECRET: 'c'.repeat(32) });
    expect(() => configApiOf(app).load(env)).toThrow(/CLICK_BASE_URL/);
  });

  it.each(ROUTE_APPS)('%s reads the route table of this directory, mounted read-only over the image\'s copy (no rebuild to change it)', (app) => {
    const env = environmentOf(services[app] ?? {});
    const { settings } = configApiOf(app);
    const routes = env.NOTIFY_ROUTES ?? String(defaultOf(settings, settingKeyOf(settings, 'NOTIFY_ROUTES')!));
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const workdir = [...dockerfile.matchAll(/^WORKDIR\s+(\S+)/gm)].pop()?.[1] ?? '/';
    const inContainer = posix.resolve(workdir, routes);
    const mount = mountsOf(services[app] ?? {}).find((m) => m.target === inContainer || inContainer.startsWith(`${m.target}/`));
    expect(mount).toMatchObject({ type: 'bind', readOnly: true });
    // The file at that path under the mount's source is the repo's copy, the one the image holds.
    const onHost = posix.join(mount!.source, posix.relative(mount!.target, inContainer));
    expect(posix.normalize(onHost)).toBe(posix.relative(workdir, inContainer));
  });

  it.each(ROUTE_APPS)('%s reads a route table (NOTIFY_ROUTES) that the image contains', (app) => {
    const env = environmentOf(services[app] ?? {});
    const { settings } = configApiOf(app);
    const routes = env.NOTIFY_ROUTES ?? String(defaultOf(settings, settingKeyOf(settings, 'NOTIFY_ROUTES')!));
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const workdir = [...dockerfile.matchAll(/^WORKDIR\s+(\S+)/gm)].pop()?.[1] ?? '/';
    const inRepo = posix.isAbsolute(routes) ? posix.relative(workdir, routes) : routes;
    expect(inRepo.startsWith('..')).toBe(false);
    expect(existsSync(join(ROOT, inRepo))).toBe(true);
  });
});

describe('config/env: the apps\' own settings', () => {
  it('has an example for the channel worker, whose providers are configured there', () => {
    expect(existsSync(join(ROOT, 'config/env/channel-worker.env.example'))).toBe(true);
  });

  it.each(APPS)('%s: its example (if any) names only variables it reads, and none that compose sets over them', (app) => {
    const example = join(ROOT, 'config/env', `${app}.env.example`);
    if (!existsSync(example)) return;
    const names = settingNames(configApiOf(app).settings);
    const overridden = Object.keys(environmentOf(services[app] ?? {}));
    const variables = variablesOfExample(example);
    expect(variables.length).toBeGreaterThan(0);
    expect(variables.filter((name) => !names.has(name) || overridden.includes(name))).toEqual([]);
  });

  it('keeps the env files out of git', () => {
    const ignored = readFileSync(join(ROOT, 'config/env/.gitignore'), 'utf8').split('\n').map((line) => line.trim());
    expect(ignored).toContain('*.env');
  });
});

describe('the image', () => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  /** The last stage's instructions, a continued line (`\`) joined to the next. */
  const lastStage = (dockerfile.split(/^FROM\s/m).pop() ?? '').replace(/\\\n/g, ' ');

  it('is built on node:20-bookworm-slim with npm ci, and runs as a non-root user', () => {
    expect(dockerfile).toMatch(/node:20-bookworm-slim/);
    expect(dockerfile).toMatch(/^RUN[\s\S]*?npm ci\b/m);
    const lastStage = dockerfile.split(/^FROM\s/m).pop() ?? '';
    const user = [...lastStage.matchAll(/^USER\s+(\S+)/gm)].pop()?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
  });

  it('installs with the fixes to dependencies in patches/, which npm ci applies (postinstall)', () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts.postinstall).toBe('patch-package --error-on-fail');
    expect(existsSync(join(ROOT, 'patches'))).toBe(true);
    // The install stage sees only what the manifests stage copied for it.
    expect(dockerfile).toMatch(/cp -r patches \/manifests\/patches/);
  });

  it('keeps dependencies, caches and build output out of the build context', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim().replace(/^\*\*\//, ''))
      .filter((line) => line && !line.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'tools/kafka/.cache', 'tmp', '.nx', '.git', 'dist', 'coverage']));
  });

  it('leaves the apps\' env files (config/env/*.env, their secrets) out of the image', () => {
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
    expect(ignored).toContain('config/env/*.env');
  });

  describe('its default command', () => {
    let stubs: string;
    beforeAll(() => {
      // A `node` that prints its arguments: the command runs as the image would run it, up to node.
      stubs = mkdtempSync(join(tmpdir(), 'notify-image-cmd-'));
      writeFileSync(join(stubs, 'node'), '#!/bin/sh\nfor arg in "$@"; do printf \'%s\\n\' "$arg"; done\n');
      chmodSync(join(stubs, 'node'), 0o755);
    });
    afterAll(() => rmSync(stubs, { recursive: true, force: true }));

    it.each(PLATFORM_APPS.map((app) => [app.name, app] as const))('runs %s as npm start does, node flags included (commandOf)', (name, app) => {
      expect(/^ENTRYPOINT\s/m.test(lastStage)).toBe(false);
      const cmd = [...lastStage.matchAll(/^CMD\s+(.+)$/gm)].pop()?.[1] ?? '';
      const argv = cmd.startsWith('[') ? (JSON.parse(cmd) as string[]) : ['/bin/sh', '-c', cmd];
      const printed = execFileSync(argv[0], argv.slice(1), { cwd: ROOT, env: { PATH: `${stubs}:${process.env.PATH ?? ''}`, APP: name }, encoding: 'utf8' });
      expect(['node', ...printed.split('\n').filter(Boolean)]).toEqual(commandOfApp(app));
    });
  });
});

describe('interpolate', () => {
  it('resolves compose variables the way compose does with an empty shell environment', () => {
    expect(interpolate('${A:-x}/${B-y}/${C}/$$D/${E:+z}')).toBe('x/y//$D/');
    expect(interpolate('${A:-x}', { A: '' })).toBe('x');
    expect(interpolate('${A-x}', { A: '' })).toBe('');
    expect(interpolate('${A:-x}', { A: 'set' })).toBe('set');
    expect(() => interpolate('${A:?must be set}')).toThrow('A is required');
  });
});
