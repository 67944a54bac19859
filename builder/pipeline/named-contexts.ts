/**
 * `--build-context NAME=SOURCE` (buildx's named contexts) resolved before the build into what the stage graph
 * uses (builder/frontend NamedContextUse), with buildx's source kinds:
 * - a directory (relative to the working directory), read with its own .dockerignore;
 * - `docker-image://REF` (pulled when missing, like a FROM image), `docker-image://scratch` for an empty one;
 * - `oci-layout://PATH[:TAG|@DIGEST]`, copied into the store (verified, unnamed, held by the build's lease);
 * - `target:STAGE`, another stage of the same Dockerfile;
 * - a git repository (`https://host/repo.git#ref:subdir`, `git@host:repo.git#ref`, as the build context), checked
 *   out into the git cache by commit;
 * - any other http(s) URL, downloaded as one file named `context` (BuildKit's llb.HTTP with that file name: an
 *   archive is not extracted).
 * A name that is no valid reference, a source of another kind, a missing directory or layout entry fail here,
 * before any step runs, naming the flag's value.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join, resolve as resolvePath } from 'node:path';
import {
  TsbuildError, copyImage, isDigest, leaseDestination, ociLayoutSource,
  type Abortable, type Digest, type LayerStore, type Lease, type Platform,
} from '../../layer-store/index.js';
import { contextKey, type NamedContextUse } from '../frontend/index.js';
import { downloadFile, fetchGitRef, isGitRef, isHttpContext, parseGitRef } from '../context/index.js';

/** A parsed `--build-context` value. */
export type BuildContextSource =
  | { readonly kind: 'dir'; readonly path: string }
  | { readonly kind: 'image'; readonly ref: string }
  | { readonly kind: 'oci-layout'; readonly path: string; readonly tag?: string; readonly digest?: Digest }
  | { readonly kind: 'stage'; readonly name: string }
  | { readonly kind: 'git'; readonly url: string }
  | { readonly kind: 'url'; readonly url: string };

const HINT = 'write NAME=DIR, NAME=docker-image://REF, NAME=oci-layout://PATH[:TAG|@DIGEST], NAME=target:STAGE, a git URL or an https URL';

/** Parses one `--build-context` value's source (what follows `NAME=`). */
export function parseBuildContextSource(name: string, value: string, cwd = process.cwd()): BuildContextSource {
  const usage = (what: string, hint = HINT): TsbuildError => new TsbuildError('USAGE', `--build-context ${name}=${value}: ${what}`, { hint });
  if (value.startsWith('docker-image://')) {
    const ref = value.slice('docker-image://'.length);
    if (ref !== 'scratch' && contextKey(ref) === undefined) throw usage(`${JSON.stringify(ref)} is not a valid image reference`);
    return { kind: 'image', ref };
  }
  if (value.startsWith('oci-layout://')) {
    const spec = value.slice('oci-layout://'.length);
    const at = spec.lastIndexOf('@');
    if (at >= 0) {
      const digest = spec.slice(at + 1);
      if (!isDigest(digest)) throw usage(`${digest} is not a sha256 digest`);
      return { kind: 'oci-layout', path: resolvePath(cwd, spec.slice(0, at)), digest };
    }
    const colon = spec.lastIndexOf(':');
    const slash = spec.lastIndexOf('/');
    if (colon > slash) return { kind: 'oci-layout', path: resolvePath(cwd, spec.slice(0, colon)), tag: spec.slice(colon + 1) };
    return { kind: 'oci-layout', path: resolvePath(cwd, spec) };
  }
  if (value.startsWith('target:')) return { kind: 'stage', name: value.slice('target:'.length) };
  if (isGitRef(value)) {
    parseGitRef(value); // a bad query fails now
    return { kind: 'git', url: value };
  }
  if (isHttpContext(value)) return { kind: 'url', url: value };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) throw usage(`unsupported source ${value.slice(0, value.indexOf(':'))}://`);
  if (value === '') throw usage('no source given');
  return { kind: 'dir', path: resolvePath(cwd, value) };
}

export interface ResolveNamedContextsOptions extends Abortable {
  readonly store: LayerStore;
  /** Holds what is copied into the store until the build's result is tagged. */
  readonly lease: Lease;
  /** The build's platforms (an OCI layout index is copied whole when there are several). */
  readonly platforms: readonly Platform[];
  /** The `--ssh` agent socket git uses for `ssh://` and `user@host:` repositories. */
  readonly sshAuthSock?: string | undefined;
  /** Undone when the build is over (downloads' scratch dirs); the caller runs them. */
  readonly cleanups: (() => Promise<void>)[];
}

/** Resolves each `--build-context` (NAME → source) into the use the stage graph makes of it, keyed by contextKey. */
export async function resolveNamedContexts(contexts: Readonly<Record<string, BuildContextSource>>, o: ResolveNamedContextsOptions): Promise<Map<string, NamedContextUse>> {
  const out = new Map<string, NamedContextUse>();
  for (const [name, src] of Object.entries(contexts)) {
    const key = contextKey(name);
    if (key === undefined) {
      throw new TsbuildError('USAGE', `--build-context ${name}: invalid context name`, { hint: 'a name is a stage name or an image reference, in lower case (e.g. base or alpine:3.20)' });
    }
    out.set(key, await resolveOne(name, src, o));
  }
  return out;
}

async function resolveOne(name: string, src: BuildContextSource, o: ResolveNamedContextsOptions): Promise<NamedContextUse> {
  switch (src.kind) {
    case 'image':
      return { kind: 'image', ref: src.ref };
    case 'stage':
      return { kind: 'stage', name: src.name };
    case 'dir': {
      const st = await stat(src.path).catch(() => undefined);
      if (!st?.isDirectory()) {
        throw new TsbuildError('USAGE', `--build-context ${name}=${src.path}: ${st ? 'not a directory' : 'no such directory'}`, { hint: 'give a directory, or a docker-image://, oci-layout:// or target: source' });
      }
      return { kind: 'dir', path: src.path };
    }
    case 'git': {
      const co = await fetchGitRef(parseGitRef(src.url)!, {
        cacheDir: o.store.layout.gitCacheDir, sshAuthSock: o.sshAuthSock, signal: o.signal,
        lease: (entry) => o.lease.add({ paths: [o.store.layout.gitCacheLeaseName(entry)] }),
      });
      return { kind: 'dir', path: co.dir };
    }
    case 'url': {
      const dir = o.store.layout.scratchPath('context', randomUUID());
      o.cleanups.push(() => rm(dir, { recursive: true, force: true }));
      await mkdir(dir, { recursive: true });
      await downloadFile(src.url, join(dir, 'context'), `--build-context ${name}=${src.url}`, o.signal);
      return { kind: 'dir', path: dir };
    }
    case 'oci-layout': {
      const source = await ociLayoutSource(src.path, { tag: src.tag, digest: src.digest });
      // Copied unnamed (nothing is tagged in the store): the lease keeps it until the build's result is tagged.
      const dst = leaseDestination(o.store.destination(), o.lease);
      const keep = Object.assign(Object.create(dst) as typeof dst, { commit: async () => undefined });
      const several = o.platforms.length > 1;
      const top = await copyImage(source, keep, { ...(several ? { allPlatforms: true } : { platform: o.platforms[0]! }), ...(o.signal ? { signal: o.signal } : {}) });
      return { kind: 'image', ref: top.digest };
    }
  }
}

