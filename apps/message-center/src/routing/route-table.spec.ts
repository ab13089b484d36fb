import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RouteTable, RouteTableError } from './route-table';

const SHIPPED_ROUTES = resolve(__dirname, '../../../../config/routes.yaml');

/** Runs a function expected to fail and returns its RouteTableError. */
function routeTableError(build: () => unknown): RouteTableError {
  try {
    build();
  } catch (error) {
    if (error instanceof RouteTableError) return error;
    throw error;
  }
  throw new Error('expected a RouteTableError, but the table was accepted');
}

describe('RouteTable.from', () => {
  const table = RouteTable.from({
    version: 1,
    routes: {
      'order.shipped': { channels: ['push', 'email'] },
      'login.code': { channels: ['sms'] },
      default: { channels: ['websocket', 'push'] },
    },
  });

  it('resolves a listed type to its own route', () => {
    expect(table.resolve('order.shipped')).toEqual({ channels: ['push', 'email'] });
    expect(table.resolve('login.code')).toEqual({ channels: ['sms'] });
  });

  it('resolves an unlisted type to the default route', () => {
    expect(table.resolve('promo.spring')).toEqual({ channels: ['websocket', 'push'] });
  });

  it('resolves an unknown type to undefined when there is no default', () => {
    const strict = RouteTable.from({ version: 1, routes: { 'order.shipped': { channels: ['websocket'] } } });
    expect(strict.resolve('promo.spring')).toBeUndefined();
    expect(strict.resolve('order.shipped')).toEqual({ channels: ['websocket'] });
  });

  it('accepts a table with no routes at all, resolving nothing', () => {
    expect(RouteTable.from({ version: 1, routes: {} }).resolve('order.shipped')).toBeUndefined();
  });

  it('rejects a wrong version, naming the field', () => {
    const error = routeTableError(() => RouteTable.from({ version: 2, routes: {} }, 'routes.yaml'));
    expect(error.name).toBe('RouteTableError');
    expect(error.file).toBe('routes.yaml');
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^version: /);
    expect(error.message).toContain('routes.yaml');
  });

  it('rejects an unknown channel, with the path to it', () => {
    const error = routeTableError(() =>
      RouteTable.from({ version: 1, routes: { default: { channels: ['websocket', 'fax'] } } }),
    );
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^routes\.default\.channels\.1: /);
  });

  it('rejects an empty channel list, with the path to it', () => {
    const error = routeTableError(() => RouteTable.from({ version: 1, routes: { 'order.shipped': { channels: [] } } }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^routes\.order\.shipped\.channels: /);
  });

  it('rejects an extra key at the top level', () => {
    const error = routeTableError(() => RouteTable.from({ version: 1, routes: {}, fallback: 'sms' }));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^\(root\): .*fallback/);
  });

  it('rejects an extra key in a route, with the path to it', () => {
    const error = routeTableError(() =>
      RouteTable.from({ version: 1, routes: { default: { channels: ['websocket'], retries: 3 } } }),
    );
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^routes\.default: .*retries/);
  });

  it('rejects a document that is not an object', () => {
    const error = routeTableError(() => RouteTable.from(null));
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^\(root\): /);
  });

  it('lists every problem of a document at once, each with its path', () => {
    const error = routeTableError(() =>
      RouteTable.from({
        version: 3,
        routes: {
          'order.shipped': { channels: [] },
          'login.code': { channels: ['pigeon'] },
          default: { channels: ['websocket'], template: 'x' },
        },
      }),
    );
    expect(error.problems).toHaveLength(4);
    expect(error.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^version: /),
        expect.stringMatching(/^routes\.order\.shipped\.channels: /),
        expect.stringMatching(/^routes\.login\.code\.channels\.0: /),
        expect.stringMatching(/^routes\.default: .*template/),
      ]),
    );
  });
});

describe('RouteTable.load', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'route-table-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function write(name: string, text: string): string {
    const file = join(dir, name);
    writeFileSync(file, text, 'utf8');
    return file;
  }

  it('loads a valid YAML file', () => {
    const file = write(
      'routes.yaml',
      ['version: 1', 'routes:', '  order.shipped:', '    channels: [push]', '  default:', '    channels: [websocket, email]', ''].join('\n'),
    );
    const table = RouteTable.load(file);
    expect(table.resolve('order.shipped')).toEqual({ channels: ['push'] });
    expect(table.resolve('anything.else')).toEqual({ channels: ['websocket', 'email'] });
  });

  it('reports a YAML syntax error with the file name', () => {
    const file = write('broken.yaml', 'version: 1\nroutes:\n  default: { channels: [websocket\n');
    const error = routeTableError(() => RouteTable.load(file));
    expect(error.file).toBe(file);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]!.length).toBeGreaterThan(0);
    expect(error.message).toContain(file);
  });

  it('reports schema problems of a loaded file with their paths and the file name', () => {
    const file = write('bad.yaml', 'version: 1\nroutes:\n  default:\n    channels: [websocket, fax]\n');
    const error = routeTableError(() => RouteTable.load(file));
    expect(error.file).toBe(file);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^routes\.default\.channels\.1: /);
  });

  it('reports a missing file', () => {
    const file = join(dir, 'missing.yaml');
    const error = routeTableError(() => RouteTable.load(file));
    expect(error.file).toBe(file);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('ENOENT');
  });

  it('loads the shipped route table, whose default route starts with websocket', () => {
    const table = RouteTable.load(SHIPPED_ROUTES);
    const fallback = table.resolve('a.type.nobody.listed');
    expect(fallback).toBeDefined();
    expect(fallback!.channels[0]).toBe('websocket');
  });
});

describe('RouteTable.channelsFor', () => {
  const table = RouteTable.from({ version: 1, routes: { default: { channels: ['websocket', 'push', 'websocket'] } } });
  const route = table.resolve('order.shipped')!;

  it('uses the route channels when the request names none, without duplicates', () => {
    expect(table.channelsFor(route, undefined)).toEqual(['websocket', 'push']);
  });

  it('lets the request channels override the route channels', () => {
    expect(table.channelsFor(route, ['email', 'sms'])).toEqual(['email', 'sms']);
  });

  it('de-duplicates the request channels, keeping their order', () => {
    expect(table.channelsFor(route, ['sms', 'email', 'sms', 'email'])).toEqual(['sms', 'email']);
  });

  it('does not change the route it was given', () => {
    table.channelsFor(route, ['email']);
    expect(route.channels).toEqual(['websocket', 'push', 'websocket']);
  });
});
