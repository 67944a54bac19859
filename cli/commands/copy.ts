/**
 * `tsbuild copy SRC DST` with skopeo's transports and flags (library: copyBetween in builder/pipeline/transports.ts),
 * and the translation of skopeo's per-side TLS and credential flags into one registry client.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { copyBetween, parseImageLocation, namesRegistryHost, type ImageLocation } from '../../builder/index.js';
import { TsbuildError, hostPlatform, parsePlatform, type Platform } from '../../layer-store/index.js';
import { Credential, dockerKeychain, parseReference, readCaFile, type Keychain, type RegistryClient } from '../../registry-client/index.js';
import { loggerFor, type GlobalArgs } from '../context.js';
import { createRenderer } from '../progress/index.js';
import { openStore } from '../services.js';
import { client, concurrencyFlag, registryFlags, type RegistryFlags } from './registry.js';

/** skopeo's per-side registry flags. */
export interface SideFlags {
  'src-tls-verify': boolean; 'dest-tls-verify': boolean;
  'src-cert-dir'?: string; 'dest-cert-dir'?: string;
  'src-creds'?: string; 'dest-creds'?: string;
}

interface CopyArgs extends RegistryFlags, SideFlags {
  src: string; dst: string; platform?: string; 'all-platforms'?: boolean;
  'override-os'?: string; 'override-arch'?: string; 'override-variant'?: string;
}

/** Adds skopeo's `--{src,dest}-{tls-verify,cert-dir,creds}` flags. */
export function sideFlags<T>(y: Argv<T>): Argv<T & SideFlags> {
  return y
    .option('src-tls-verify', { type: 'boolean', default: true, describe: 'verify TLS of the source registry (false: HTTPS without certificate checks, else plain HTTP, as skopeo)' })
    .option('dest-tls-verify', { type: 'boolean', default: true, describe: 'verify TLS of the destination registry (false: HTTPS without certificate checks, else plain HTTP)' })
    .option('src-cert-dir', { type: 'string', describe: 'directory of *.crt CA certificates for the source registry' })
    .option('dest-cert-dir', { type: 'string', describe: 'directory of *.crt CA certificates for the destination registry' })
    .option('src-creds', { type: 'string', describe: 'USER[:PASSWORD] for the source registry' })
    .option('dest-creds', { type: 'string', describe: 'USER[:PASSWORD] for the destination registry' }) as never;
}

/** Returns the registry host a location talks to, if it is a registry location. */
function registryOf(loc: ImageLocation, bareIsRegistry: boolean): string | undefined {
  if (loc.transport !== 'docker' && !(loc.transport === 'bare' && (bareIsRegistry || namesRegistryHost(loc.ref)))) return undefined;
  try {
    return parseReference(loc.ref).registry;
  } catch {
    return undefined; // not a registry reference: a store name (openImageSource reports a bad one)
  }
}

/**
 * Returns one registry client honouring both sides' flags (insecure hosts, CA certificates of the cert dirs,
 * static credentials before the docker keychain) and a cleanup that closes it and removes the combined CA file.
 */
export async function sideClient(argv: RegistryFlags & SideFlags, src: ImageLocation | undefined, dst: ImageLocation | undefined): Promise<{ registry: RegistryClient; close(): Promise<void> }> {
  const srcHost = src ? registryOf(src, true) : undefined;
  const dstHost = dst ? registryOf(dst, false) : undefined;
  const insecure = [...argv['insecure-registry']];
  if (!argv['src-tls-verify'] && srcHost) insecure.push(srcHost);
  if (!argv['dest-tls-verify'] && dstHost) insecure.push(dstHost);
  const creds: Record<string, Credential> = {};
  const cred = (flag: string, v: string): Credential => {
    const i = v.indexOf(':');
    if (!v || i === 0) throw new TsbuildError('USAGE', `invalid --${flag}`, { hint: 'write USER[:PASSWORD]' });
    return new Credential({ source: `--${flag}`, username: i < 0 ? v : v.slice(0, i), password: i < 0 ? '' : v.slice(i + 1) });
  };
  if (argv['src-creds'] && srcHost) creds[srcHost] = cred('src-creds', argv['src-creds']);
  if (argv['dest-creds'] && dstHost) creds[dstHost] = cred('dest-creds', argv['dest-creds']);
  const base = dockerKeychain();
  const keychain: Keychain = { resolve: async (r) => creds[r] ?? base.resolve(r) };
  let tmp: string | undefined;
  const pems: Buffer[] = [];
  for (const [flag, dir] of [['src-cert-dir', argv['src-cert-dir']], ['dest-cert-dir', argv['dest-cert-dir']]] as const) {
    if (!dir) continue;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      throw new TsbuildError('USAGE', `--${flag} ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { hint: 'give a directory holding CA certificates named *.crt', cause: e });
    }
    if (names.some((n) => n.endsWith('.cert') || n.endsWith('.key'))) {
      throw new TsbuildError('USAGE', `--${flag} ${dir} holds a client certificate (*.cert/*.key): tsbuild does not present client certificates`, { hint: 'keep only the CA certificates (*.crt) there, or use a registry that does not require mutual TLS' });
    }
    for (const n of names.filter((x) => x.endsWith('.crt')).sort()) pems.push(await readFile(join(dir, n)));
  }
  let caFile = argv['ca-file'];
  if (pems.length > 0) {
    // Everything read before the temp dir is made, so a file that cannot be read leaves nothing behind.
    const bundle = Buffer.concat([...(argv['ca-file'] ? [readCaFile(argv['ca-file']), Buffer.from('\n')] : []), ...pems.flatMap((p) => [p, Buffer.from('\n')])]);
    tmp = await mkdtemp(join(tmpdir(), 'tsbuild-ca-'));
    caFile = join(tmp, 'ca.pem');
    try {
      await writeFile(caFile, bundle);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
  }
  const registry = client({ ...argv, 'insecure-registry': insecure, 'ca-file': caFile }, keychain);
  return {
    registry,
    close: async () => {
      await registry.close();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** Returns the platform of `--platform` or skopeo's `--override-os/--override-arch/--override-variant`. */
export function platformFlags(argv: { platform?: string; 'override-os'?: string; 'override-arch'?: string; 'override-variant'?: string }): Platform | undefined {
  const override = argv['override-os'] ?? argv['override-arch'] ?? argv['override-variant'];
  if (argv.platform && override) throw new TsbuildError('USAGE', '--platform and --override-os/--override-arch both given', { hint: 'use one of them' });
  if (argv.platform) return parsePlatform(argv.platform);
  if (override === undefined) return undefined;
  const host = hostPlatform();
  return parsePlatform([argv['override-os'] ?? host.os, argv['override-arch'] ?? host.architecture, ...(argv['override-variant'] ? [argv['override-variant']] : [])].join('/'));
}

export const transportCopyCommand: CommandModule<GlobalArgs, CopyArgs> = {
  command: 'copy <src> <dst>',
  describe: 'copy an image between transports: docker://REF, oci:DIR[:REF], oci-archive:FILE[:REF], docker-archive:FILE[:REF], store:REF or a bare name',
  builder: (y) => sideFlags(registryFlags(y
    .positional('src', { type: 'string', demandOption: true, describe: 'source (a bare name: the store if it has it, else the registry)' })
    .positional('dst', { type: 'string', demandOption: true, describe: 'destination (a bare name with a registry host: the registry, else the store)' })
    .option('platform', { type: 'string', describe: 'copy only this os/arch[/variant] of an index' })
    .option('override-os', { type: 'string', describe: 'skopeo spelling: the OS of the platform to copy' })
    .option('override-arch', { type: 'string', describe: 'skopeo spelling: the architecture of the platform to copy' })
    .option('override-variant', { type: 'string', describe: 'skopeo spelling: the variant of the platform to copy' })
    .option('all-platforms', { alias: ['all', 'a'], type: 'boolean', describe: 'copy every platform and the index (the default, except into docker-archive:)' })
    .example('$0 copy docker://localhost:5000/app:1 oci:./layout:app', 'registry → OCI layout, digests kept')
    .example('$0 copy oci-archive:app.tar:1.0 docker://ghcr.io/me/app:1.0 --dest-creds me:$TOKEN', 'archive → registry'))) as never,
  handler: async (argv) => {
    const renderer = createRenderer(argv.progress);
    const srcLoc = parseImageLocation(argv.src);
    const dstLoc = parseImageLocation(argv.dst);
    const { registry, close } = await sideClient(argv, srcLoc, dstLoc);
    try {
      const platform = platformFlags(argv);
      const r = await copyBetween({
        registry, openStore: () => openStore(argv.root, loggerFor(argv)), source: argv.src, destination: argv.dst,
        platform, allPlatforms: argv['all-platforms'],
        concurrency: concurrencyFlag(Math.min(argv['max-concurrent-uploads'], argv['max-concurrent-downloads']), 'max-concurrent-uploads'),
        events: renderer.sink,
      });
      renderer.close();
      process.stdout.write(r.imageId ? `${r.ref}: ${r.imageId} (image ID: a docker-archive keeps no manifest)\n` : `${r.ref}: ${r.digest}\n`);
    } finally {
      renderer.close();
      await close();
    }
  },
};
