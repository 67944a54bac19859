/**
 * skopeo's transports as copyImage ends: `docker://REF`, `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
 * `docker-archive:FILE[:REF|:@N]`, `store:REF`, and a bare name. The path and the reference are split at the
 * first `:` after the transport, as containers/image does on Unix (so a path cannot hold a `:`).
 *
 * A bare name is read from the store when the store has it, else from the registry (tsbuild's rule everywhere:
 * local first). A bare destination goes to the registry when its first component names a registry host
 * (`localhost`, or holds a `.` or `:`, e.g. `ghcr.io/x`, `127.0.0.1:5000/x`), else into the store.
 */
import {
  Lease, TsbuildError, copyImage, dockerArchiveDestination, dockerArchiveSource, leaseDestination, normalizeTagName,
  ociArchiveDestination, ociArchiveSource, ociLayoutDestination, ociLayoutSource, parseManifest,
  type Abortable, type Descriptor, type Digest, type EventSink, type ImageDestination, type ImageSource, type LayerStore, type Platform,
} from '../../layer-store/index.js';
import { formatReference, parseReference, type RegistryClient } from '../../registry-client/index.js';

/** A parsed transport reference. */
export type ImageLocation =
  | { readonly transport: 'docker'; readonly ref: string }
  | { readonly transport: 'oci' | 'oci-archive'; readonly path: string; readonly name?: string | undefined }
  | { readonly transport: 'docker-archive'; readonly path: string; readonly name?: string | undefined; readonly index?: number | undefined }
  | { readonly transport: 'store'; readonly ref: string }
  | { readonly transport: 'bare'; readonly ref: string };

const TRANSPORTS = ['docker', 'oci', 'oci-archive', 'docker-archive', 'store'] as const;
const UNSUPPORTED = ['dir', 'docker-daemon', 'containers-storage', 'sif', 'ostree'];

/** Returns `s` parsed as a transport reference (a bare name when it has no known `transport:` prefix). */
export function parseImageLocation(s: string): ImageLocation {
  if (s.startsWith('docker://')) return { transport: 'docker', ref: s.slice('docker://'.length) };
  const colon = s.indexOf(':');
  const t = colon > 0 ? s.slice(0, colon) : '';
  if (t === 'docker') throw usage(s, 'the docker transport is written docker://REF');
  if (t === 'store') return { transport: 'store', ref: s.slice(colon + 1) };
  if (t === 'oci' || t === 'oci-archive' || t === 'docker-archive') {
    const rest = s.slice(colon + 1);
    const c = rest.indexOf(':');
    const path = c >= 0 ? rest.slice(0, c) : rest;
    const name = c >= 0 && c < rest.length - 1 ? rest.slice(c + 1) : undefined;
    if (!path) throw usage(s, `${t}: needs a path`);
    if (t === 'docker-archive' && name?.startsWith('@')) {
      const n = Number(name.slice(1));
      if (!Number.isInteger(n) || n < 0) throw usage(s, `bad image position ${name}`);
      return { transport: t, path, index: n };
    }
    return { transport: t, path, name };
  }
  // skopeo's other transports; `dir:1` stays the image `dir` tagged 1 (what follows is a valid tag). The others
  // are never read as an image name: `containers-storage:app` and `docker-daemon:app` mean skopeo's transports.
  if (UNSUPPORTED.includes(t) && (t !== 'dir' || !/^[\w][\w.-]{0,127}$/.test(s.slice(colon + 1)))) throw usage(s, `transport ${t}: is not supported`);
  return { transport: 'bare', ref: s };
}

function usage(s: string, what: string): TsbuildError {
  return new TsbuildError('USAGE', `${what}: ${s}`, { hint: `transports: ${TRANSPORTS.map((t) => (t === 'docker' ? 'docker://REF' : `${t}:…`)).join(', ')}, or a bare name`, location: { ref: s } });
}

/** True when the first path component of a bare name names a registry host. */
export function namesRegistryHost(ref: string): boolean {
  const first = ref.split('/')[0]!;
  return ref.includes('/') && (first === 'localhost' || first.includes('.') || first.includes(':'));
}

/** What opening a transport needs. The store opens only when a location uses it. */
export interface TransportContext extends Abortable {
  readonly registry: RegistryClient;
  readonly openStore: () => Promise<LayerStore>;
}

/** Returns the ImageSource `loc` names (a bare name: the store's image when it has one, else the registry's). */
export async function openImageSource(loc: ImageLocation, c: TransportContext): Promise<ImageSource> {
  switch (loc.transport) {
    case 'docker':
      return c.registry.source(parseReference(loc.ref));
    case 'oci':
      return ociLayoutSource(loc.path, { tag: loc.name });
    case 'oci-archive':
      return ociArchiveSource(loc.path, { name: loc.name }, c);
    case 'docker-archive':
      return dockerArchiveSource(loc.path, { name: loc.name, index: loc.index }, c);
    case 'store': {
      const store = await c.openStore();
      await store.resolve(loc.ref);
      return store.source(loc.ref);
    }
    case 'bare': {
      const store = await c.openStore();
      const found = await store.resolve(loc.ref).then(() => true, () => false);
      return found ? store.source(loc.ref) : c.registry.source(parseReference(loc.ref));
    }
  }
}

/** An opened destination and the names its commit takes. */
export interface OpenedDestination {
  readonly destination: ImageDestination;
  readonly tags: readonly string[];
  /** Printed as the result's reference. */
  readonly ref: string;
  /** Releases what opening took (a store lease). */
  release(): Promise<void>;
}

/** Returns the ImageDestination `loc` names; `from` (the source location) lets a same-registry copy mount blobs. */
export async function openImageDestination(loc: ImageLocation, c: TransportContext, from?: ImageLocation): Promise<OpenedDestination> {
  const none = async (): Promise<void> => undefined;
  if (loc.transport === 'docker' || (loc.transport === 'bare' && namesRegistryHost(loc.ref))) {
    const dst = parseReference(loc.ref);
    const srcRef = from && (from.transport === 'docker' || (from.transport === 'bare' && namesRegistryHost(from.ref))) ? parseReference(from.ref) : undefined;
    const mountFrom = srcRef && srcRef.registry === dst.registry && srcRef.repository !== dst.repository ? [srcRef.repository] : [];
    return { destination: c.registry.destination(dst, { mountFrom }), tags: [], ref: formatReference(dst), release: none };
  }
  switch (loc.transport) {
    case 'oci':
      return { destination: await ociLayoutDestination(loc.path, { tag: loc.name }), tags: [], ref: `oci:${loc.path}${loc.name ? `:${loc.name}` : ''}`, release: none };
    case 'oci-archive':
      return { destination: await ociArchiveDestination(loc.path, { name: loc.name }), tags: [], ref: `oci-archive:${loc.path}${loc.name ? `:${loc.name}` : ''}`, release: none };
    case 'docker-archive':
      return { destination: await dockerArchiveDestination(loc.path, { name: loc.name, index: loc.index }), tags: [], ref: `docker-archive:${loc.path}${loc.name ? `:${loc.name}` : ''}`, release: none };
    case 'store':
    case 'bare': {
      const store = await c.openStore();
      const name = normalizeTagName(loc.ref);
      const lease = await Lease.acquire(store.root, c.signal ? { signal: c.signal } : {});
      return { destination: leaseDestination(store.destination(), lease), tags: [name], ref: name, release: () => lease.release() };
    }
  }
}

export interface TransportCopyOptions extends TransportContext {
  /** A transport reference (see parseImageLocation). */
  readonly source: string;
  readonly destination: string;
  /** For an index: copy only this platform's image (and commit it alone). */
  readonly platform?: Platform | undefined;
  /**
   * For an index without `platform`: copy every child and the index itself. Default: true, except into a
   * docker-archive (one image only), where the host's platform is copied; asking for it there is an error.
   */
  readonly allPlatforms?: boolean | undefined;
  readonly concurrency?: number | undefined;
  readonly events?: EventSink | undefined;
}

export interface TransportCopyResult {
  /** The manifest committed at the destination. */
  readonly descriptor: Descriptor;
  readonly digest: Digest;
  readonly ref: string;
  /** Into a docker-archive, which keeps no manifest: the image ID (config digest) it does keep. */
  readonly imageId?: Digest | undefined;
}

/**
 * Returns the manifest copied from one transport reference to another through the one generic copy: blobs
 * verified on the way, manifests byte for byte (so digests are kept) except out of and into a docker-archive,
 * which has no manifest. Nothing is visible at the destination before the copy commits.
 */
export async function copyBetween(o: TransportCopyOptions): Promise<TransportCopyResult> {
  const srcLoc = parseImageLocation(o.source);
  const dstLoc = parseImageLocation(o.destination);
  if (dstLoc.transport === 'docker-archive' && o.allPlatforms === true && !o.platform) {
    throw new TsbuildError('USAGE', `a docker-archive holds one image: --all-platforms cannot be honoured (${o.destination})`, { hint: 'drop --all-platforms (the host platform is copied), pick one with --platform, or write oci-archive:FILE' });
  }
  const all = o.platform ? false : dstLoc.transport === 'docker-archive' ? false : o.allPlatforms ?? true;
  const src = await openImageSource(srcLoc, o);
  try {
    const dst = await openImageDestination(dstLoc, o, srcLoc);
    try {
      const d = await copyImage(src, dst.destination, {
        ...(o.platform ? { platform: o.platform } : {}),
        allPlatforms: all,
        tags: dst.tags,
        ...(o.concurrency ? { concurrency: o.concurrency } : {}),
        ...(o.events ? { events: o.events } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      });
      let imageId: Digest | undefined;
      if (dstLoc.transport === 'docker-archive') {
        const raw = await src.getManifest(d.digest, o);
        const p = parseManifest(raw.bytes, raw.mediaType, src.ref);
        if (p.kind === 'manifest') imageId = p.manifest.config.digest;
      }
      return { descriptor: d, digest: d.digest, ref: dst.ref, ...(imageId ? { imageId } : {}) };
    } finally {
      await dst.destination.close();
      await dst.release();
    }
  } finally {
    await src.close();
  }
}
