import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

/**
 * What the apps need at run time is in `dependencies`, not `devDependencies`: the loader every
 * command starts node with (`-r`), what that loader requires of its own (its peer dependencies), and
 * the binary of the install script that applies patches/. An install without the dev dependencies
 * (`npm ci --omit=dev`) then still starts every app.
 */

const ROOT = resolve(__dirname, '../..');

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  scripts?: Record<string, string>;
  bin?: string | Record<string, string>;
  name?: string;
}

interface Lockfile {
  packages: Record<string, { dev?: boolean; devOptional?: boolean; dependencies?: Record<string, string> }>;
}

const read = <T>(path: string): T => JSON.parse(readFileSync(join(ROOT, path), 'utf8')) as T;
const pkg = read<Manifest>('package.json');
const lock = read<Lockfile>('package-lock.json');
const installed = (name: string): Manifest => read<Manifest>(`node_modules/${name}/package.json`);

/** The modules node preloads (`-r x`, `--require x`, `--require=x`) in the given command words. */
function preloads(words: string[]): string[] {
  return words.flatMap((word, i) => {
    if (word.startsWith('--require=')) return [word.slice('--require='.length)];
    return (word === '-r' || word === '--require') && words[i + 1] ? [words[i + 1]] : [];
  });
}

/** The image's default command, as words (exec form, its shell string split too). */
function dockerfileCommandWords(): string[] {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const cmd = [...dockerfile.matchAll(/^CMD\s+(.+)$/gm)].pop()?.[1] ?? '';
  const parts = cmd.startsWith('[') ? (JSON.parse(cmd) as string[]) : [cmd];
  return parts.flatMap((part) => part.split(/\s+/)).map((word) => word.replace(/^["']|["';]$/g, ''));
}

/** Every service command of docker-compose.yml, as words. */
function composeCommandWords(): string[] {
  const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, { command?: string | string[] }> };
  return Object.values(compose.services).flatMap(({ command }) => (typeof command === 'string' ? command.split(/\s+/) : (command ?? [])));
}

const dockerfileLoaders = [...new Set(preloads(dockerfileCommandWords()))];
const RUNTIME_LOADERS = [...new Set([...dockerfileLoaders, ...preloads(composeCommandWords())])];

/** A loader's peer dependencies that are not optional: it requires them when it loads. */
function requiredPeers(name: string): string[] {
  const manifest = installed(name);
  return Object.keys(manifest.peerDependencies ?? {}).filter((peer) => !manifest.peerDependenciesMeta?.[peer]?.optional);
}

const postinstallBinary = (pkg.scripts?.postinstall ?? '').trim().split(/\s+/)[0];

/** The packages of `dependencies` that install the given binary. */
function dependenciesProviding(binary: string): string[] {
  return Object.keys(pkg.dependencies ?? {}).filter((name) => {
    const { bin, name: own } = installed(name);
    if (typeof bin === 'string') return own?.split('/').pop() === binary;
    return Object.keys(bin ?? {}).includes(binary);
  });
}

describe('run-time dependencies', () => {
  it('finds the loader the image starts node with', () => {
    expect(dockerfileLoaders).toContain('@swc-node/register');
  });

  it.each(RUNTIME_LOADERS)('%s (node -r in the Dockerfile and docker-compose.yml) is a dependency, with its required peers', (loader) => {
    const needed = [loader, ...requiredPeers(loader)];
    expect(needed.filter((name) => !pkg.dependencies?.[name])).toEqual([]);
    expect(needed.filter((name) => pkg.devDependencies?.[name])).toEqual([]);
  });

  it('installs the postinstall script\'s binary from a dependency', () => {
    expect(postinstallBinary).toBe('patch-package');
    expect(dependenciesProviding(postinstallBinary)).not.toEqual([]);
  });

  it('has a lockfile that agrees: those packages are not dev-only there', () => {
    const needed = [...RUNTIME_LOADERS.flatMap((loader) => [loader, ...requiredPeers(loader)]), ...dependenciesProviding(postinstallBinary)];
    expect(needed.filter((name) => !lock.packages['']?.dependencies?.[name])).toEqual([]);
    const devOnly = needed.filter((name) => {
      const entry = lock.packages[`node_modules/${name}`];
      return !entry || entry.dev === true || entry.devOptional === true;
    });
    expect(devOnly).toEqual([]);
  });
});
