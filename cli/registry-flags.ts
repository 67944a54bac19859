/**
 * The flags every registry command takes (and `build`), and the registry client they configure. Apart from
 * commands/registry.ts (login, tags, manifest …) so that `build` does not load those commands' code (Go
 * templates, manifest lists) when it starts.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { TsbuildError } from '../layer-store/index.js';
import { DEFAULT_UPLOAD_CONCURRENCY, RegistryClient, dockerKeychain, type Keychain } from '../registry-client/index.js';
import { loggerFor, type GlobalArgs } from './context.js';
import { listOption, parseSize } from './options.js';

/** Transfer tuning flags (registry commands and `build`). */
export interface TransferFlags {
  'max-concurrent-uploads': number;
  'max-concurrent-downloads': number;
  'chunk-size': string;
  'registry-timeout': number;
}

/** Flags every registry command takes. */
export interface RegistryFlags extends GlobalArgs, TransferFlags { 'insecure-registry': string[]; 'ca-file': string | undefined }

/**
 * Defaults measured on the 1 GiB four-layer image (bench T1) against a local registry (an ad-hoc loop, 2 runs each):
 * push 5.2/5.1 s with 1 stream, 4.1/3.5 s with 2, 3.6/3.3 s with 4, 3.1/3.3 s with 8; pull 2.3/2.3, 1.9/2.1,
 * 1.9/2.1, 2.0/2.0 s. One stream is clearly slower; 4 keeps a layer per stream for typical images without
 * opening more connections than helped. 16 MiB chunks cost one request per 16 MiB and at most two chunks of
 * memory per upload (one on the wire, one filling).
 */
export const DEFAULT_CONCURRENT_UPLOADS = DEFAULT_UPLOAD_CONCURRENCY;
export const DEFAULT_CONCURRENT_DOWNLOADS = DEFAULT_UPLOAD_CONCURRENCY;

export function registryFlags<T>(y: Argv<T>): Argv<T & { 'insecure-registry': string[]; 'ca-file': string | undefined } & TransferFlags> {
  return y
    .option('insecure-registry', listOption('registry (host[:port]) reached as docker reaches an insecure registry: HTTPS without certificate checks, else plain HTTP (loopback is always plain HTTP)'))
    .option('ca-file', { type: 'string', default: process.env.SSL_CERT_FILE, defaultDescription: '$SSL_CERT_FILE', describe: 'PEM file of extra CA certificates' })
    .option('max-concurrent-uploads', { type: 'number', default: DEFAULT_CONCURRENT_UPLOADS, describe: 'blobs uploaded at once' })
    .option('max-concurrent-downloads', { type: 'number', default: DEFAULT_CONCURRENT_DOWNLOADS, describe: 'blobs downloaded at once' })
    .option('chunk-size', { type: 'string', default: '16MiB', describe: 'upload chunk size: bigger blobs go up in resumable PATCH chunks of this size' })
    .option('registry-timeout', { type: 'number', default: 60, describe: 'seconds a registry request may wait for headers or body bytes' }) as never;
}

/** Returns `n` as a concurrency between 1 and 64, or a usage error naming `flag`. */
export function concurrencyFlag(n: number, flag: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new TsbuildError('USAGE', `invalid --${flag} ${n}`, { hint: 'give a whole number from 1 to 64' });
  return n;
}

/**
 * Returns the registries named in tsbuild's config file (`$TSBUILD_CONFIG`, else `$XDG_CONFIG_HOME/tsbuild/config.json`
 * or `~/.config/tsbuild/config.json`, and `/etc/tsbuild/config.json`), key `insecure-registries` as in Docker's
 * daemon.json. A missing file means none; a file that is not valid JSON is an error naming it.
 */
export function configuredInsecureRegistries(env: NodeJS.ProcessEnv = process.env): string[] {
  const files = env.TSBUILD_CONFIG
    ? [env.TSBUILD_CONFIG]
    : [join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'tsbuild', 'config.json'), '/etc/tsbuild/config.json'];
  const out: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new TsbuildError('USAGE', `invalid JSON in ${f}: ${(e as Error).message}`, { location: { ref: f }, hint: 'fix or remove the file' });
    }
    const list = (doc as Record<string, unknown>)['insecure-registries'];
    if (list !== undefined && (!Array.isArray(list) || !list.every((x) => typeof x === 'string'))) {
      throw new TsbuildError('USAGE', `"insecure-registries" in ${f} must be a list of host[:port] strings`, { location: { ref: f }, hint: 'e.g. {"insecure-registries": ["registry.local:5000"]}' });
    }
    out.push(...((list as string[] | undefined) ?? []));
  }
  return out;
}

export function client(argv: RegistryFlags, keychain: Keychain = dockerKeychain()): RegistryClient {
  const chunk = parseSize(argv['chunk-size'] ?? '16MiB');
  if (chunk < 64 * 1024) throw new TsbuildError('USAGE', `invalid --chunk-size ${argv['chunk-size']}`, { hint: 'give at least 64KiB, e.g. 16MiB' });
  const timeout = argv['registry-timeout'] ?? 60;
  if (!(timeout > 0)) throw new TsbuildError('USAGE', `invalid --registry-timeout ${timeout}`, { hint: 'give a number of seconds above 0' });
  return new RegistryClient({
    keychain, insecure: [...argv['insecure-registry'], ...configuredInsecureRegistries()],
    ...(argv['ca-file'] ? { caFile: argv['ca-file'] } : {}), logger: loggerFor(argv),
    concurrency: concurrencyFlag(argv['max-concurrent-uploads'] ?? DEFAULT_CONCURRENT_UPLOADS, 'max-concurrent-uploads'),
    chunkSize: chunk,
    timeoutMs: Math.round(timeout * 1000),
  });
}
