/**
 * crane's read verbs over any transport (transports.ts: a bare name is the store's image when the store has it,
 * else the registry's): digest, config, blob, catalog and export (the flattened filesystem as a tar, whiteouts
 * applied, as ggcr's mutate.Extract).
 */
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  TsbuildError, decompressor, isAttestationManifest, formatPlatform, hostPlatform, isDigest, isIndexType, isManifestType, layerCompression,
  parseConfig, parseManifest, platformMatches,
  type Abortable, type Descriptor, type Digest, type ImageConfig, type ImageManifest, type ImageSource, type Platform, type RawManifest,
} from '../../layer-store/index.js';
import { parseReference, type RegistryClient } from '../../registry-client/index.js';
import { namesRegistryHost, openImageSource, parseImageLocation, type TransportContext } from './transports.js';

/** Options of the crane verbs that read one image. */
export interface CraneReadOptions extends TransportContext {
  /** A transport reference, or a bare name (the store first, then the registry). */
  readonly ref: string;
  /** For an index: the image of this platform (default: the host's for config/export; the index itself for digest). */
  readonly platform?: Platform | undefined;
}

/** Runs `fn` with the source `ref` names, closing it after. */
export async function withSource<T>(o: CraneReadOptions, fn: (src: ImageSource) => Promise<T>): Promise<T> {
  const src = await openImageSource(parseImageLocation(o.ref), o);
  try {
    return await fn(src);
  } finally {
    await src.close();
  }
}

/** One image resolved from a source: the manifest (the platform's child of an index), its config bytes and parse. */
export interface ResolvedImage {
  readonly raw: RawManifest;
  readonly manifest: ImageManifest;
  readonly configBytes: Buffer;
  readonly config: ImageConfig;
}

/** Returns the image of `src` (for an index, the child for `platform`, default the host's), config read and verified. */
export async function resolveImage(src: ImageSource, platform: Platform | undefined, o: Abortable = {}): Promise<ResolvedImage> {
  let raw = await src.getManifest(undefined, o);
  for (let depth = 0; depth < 4; depth++) {
    const p = parseManifest(raw.bytes, raw.mediaType, src.ref);
    if (p.kind === 'manifest') {
      const configBytes = await readBlob(src, p.manifest.config, o);
      return { raw, manifest: p.manifest, configBytes, config: parseConfig(configBytes, `${src.ref} config`) };
    }
    const want = platform ?? hostPlatform();
    const ms = p.index.manifests.filter((m) => (isManifestType(m.mediaType) || isIndexType(m.mediaType)) && !isAttestationManifest(m));
    const child = ms.find((m) => platformMatches(want, m.platform)) ?? (ms.length === 1 ? ms[0] : undefined);
    if (!child) {
      throw new TsbuildError('IMAGE_NOT_FOUND', `${src.ref} has no image for ${formatPlatform(want)}`, {
        location: { ref: src.ref }, hint: `available: ${ms.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')).join(', ') || 'none'}; pass --platform`,
      });
    }
    raw = await src.getManifest(child.digest, o);
  }
  throw new TsbuildError('INVALID_MANIFEST', `${src.ref}: indexes nested too deep`, { location: { ref: src.ref } });
}

/** Returns a whole (verified) blob as bytes. */
async function readBlob(src: ImageSource, d: Descriptor, o: Abortable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await src.getBlob(d, o)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Returns the digest of the manifest `o.ref` names (`crane digest`): the index's own digest for an index, the
 * platform's child with `o.platform`.
 */
export async function imageDigest(o: CraneReadOptions): Promise<Digest> {
  return withSource(o, async (src) => {
    const top = await src.getManifest(undefined, o);
    if (!o.platform || !isIndexType(parseManifest(top.bytes, top.mediaType, src.ref).mediaType)) return top.digest;
    return (await resolveImage(src, o.platform, o)).raw.digest;
  });
}

/** Returns the raw config bytes of the image `o.ref` names (`crane config`). */
export async function imageConfig(o: CraneReadOptions): Promise<Buffer> {
  return withSource(o, async (src) => (await resolveImage(src, o.platform, o)).configBytes);
}

/** Returns the raw manifest bytes `o.ref` names (`crane manifest`). */
export async function imageManifest(o: CraneReadOptions): Promise<RawManifest> {
  return withSource(o, (src) => src.getManifest(undefined, o));
}

/**
 * Writes the blob `o.ref` (`REPO@sha256:…`) names to `out`, verified (`crane blob`). A registry repository is asked
 * for the blob's size first (HEAD); the store serves any blob it holds; a layout or archive serves the blobs
 * of its images.
 */
export async function writeBlob(o: TransportContext & { readonly ref: string; readonly out: Writable }): Promise<void> {
  const at = o.ref.lastIndexOf('@');
  const digest = at >= 0 ? o.ref.slice(at + 1) : '';
  if (!isDigest(digest)) throw new TsbuildError('USAGE', `blob wants REF@sha256:<hex>, got ${o.ref}`, { hint: 'e.g. tsbuild blob localhost:5000/app@sha256:…', location: { ref: o.ref } });
  const repo = o.ref.slice(0, at);
  const loc = parseImageLocation(repo);
  let body: NodeJS.ReadableStream;
  if (loc.transport === 'docker' || (loc.transport === 'bare' && namesRegistryHost(loc.ref))) {
    body = await registryBlob(o, loc.ref, digest);
  } else if (loc.transport === 'store' || loc.transport === 'bare') {
    const store = await o.openStore();
    if (await store.hasBlob(digest)) body = store.openBlob(digest, o);
    else if (loc.transport === 'bare') body = await registryBlob(o, loc.ref, digest);
    else throw new TsbuildError('BLOB_NOT_FOUND', `no blob ${digest} in the store`, { location: { ref: o.ref }, hint: 'tsbuild images lists what the store holds' });
  } else {
    const src = await openImageSource(loc, o);
    try {
      const d = await findBlob(src, digest, o);
      await pipeline(await src.getBlob(d, o), o.out, { end: false, ...(o.signal ? { signal: o.signal } : {}) });
    } finally {
      await src.close();
    }
    return;
  }
  await pipeline(body, o.out, { end: false, ...(o.signal ? { signal: o.signal } : {}) });
}

async function registryBlob(o: TransportContext, repo: string, digest: Digest): Promise<NodeJS.ReadableStream> {
  const r = parseReference(repo);
  const d = await o.registry.headBlob(r, digest, o);
  if (!d) throw new TsbuildError('BLOB_NOT_FOUND', `no blob ${digest} in ${r.registry}/${r.repository}`, { location: { ref: `${r.registry}/${r.repository}@${digest}` }, hint: 'check the digest (tsbuild config / tsbuild manifest list an image\'s blobs)' });
  return o.registry.source(r).getBlob(d, o);
}

/** Returns the descriptor of `digest` among the manifests, configs and layers of `src`'s image(s). */
async function findBlob(src: ImageSource, digest: Digest, o: Abortable): Promise<Descriptor> {
  const walk = async (raw: RawManifest): Promise<Descriptor | undefined> => {
    const p = parseManifest(raw.bytes, raw.mediaType, src.ref);
    const list = p.kind === 'index' ? p.index.manifests : [p.manifest.config, ...p.manifest.layers];
    const hit = list.find((d) => d.digest === digest);
    if (hit) return hit;
    if (p.kind === 'index') for (const c of p.index.manifests) if (isManifestType(c.mediaType) || isIndexType(c.mediaType)) {
      const f = await walk(await src.getManifest(c.digest, o));
      if (f) return f;
    }
    return undefined;
  };
  const found = await walk(await src.getManifest(undefined, o));
  if (!found) throw new TsbuildError('BLOB_NOT_FOUND', `no blob ${digest} in ${src.ref}`, { location: { ref: src.ref } });
  return found;
}

/** Returns the repositories of `registry` (`crane catalog`), in the registry's order. */
export async function catalog(o: Abortable & { readonly registry: RegistryClient; readonly host: string }): Promise<string[]> {
  const out: string[] = [];
  for await (const r of o.registry.catalog(o.host, o)) out.push(r);
  return out;
}

/**
 * Writes the flattened filesystem of the image `o.ref` names to `out` as one tar (`crane export`): layers read
 * top first, each path written once from the highest layer that has it, whiteouts (`.wh.NAME`) and opaque
 * directories (`.wh..wh..opq`) hiding what lies below and never written themselves. Every layer is verified.
 */
export async function exportFilesystem(o: CraneReadOptions & { readonly out: Writable }): Promise<void> {
  await withSource(o, async (src) => {
    const img = await resolveImage(src, o.platform, o);
    const tar = (await import('tar-stream')).default;
    const pack = tar.pack();
    const writing = pipeline(pack, o.out, { end: o.out !== process.stdout, ...(o.signal ? { signal: o.signal } : {}) });
    const work = (async () => {
      const seen = new Set<string>();
      const deleted = new Set<string>(); // paths whited out by a higher layer
      const opaque = new Set<string>(); // directories whose lower content is hidden
      const hidden = (p: string, below: Set<string>): boolean => {
        for (let d = p; d !== '.' && d !== ''; d = parentOf(d)) if (below.has(d)) return true;
        return false;
      };
      const underOpaque = (p: string): boolean => {
        for (let d = parentOf(p); d !== '.' && d !== ''; d = parentOf(d)) if (opaque.has(d)) return true;
        return opaque.has('.');
      };
      for (const layer of [...img.manifest.layers].reverse()) {
        const extract = tar.extract();
        const reading = pipeline([await src.getBlob(layer, o), decompressor(layerCompression(layer.mediaType)), extract], o.signal ? { signal: o.signal } : {});
        // When the loop below stops early (the output closed: `| head`), this rejects unawaited: not a crash.
        reading.catch(() => undefined);
        const layerDeleted: string[] = [];
        const layerOpaque: string[] = [];
        for await (const entry of extract) {
          const name = cleanName(entry.header.name);
          const base = name.slice(name.lastIndexOf('/') + 1);
          if (base === '.wh..wh..opq') {
            layerOpaque.push(parentOf(name));
            entry.resume();
            continue;
          }
          if (base.startsWith('.wh.')) {
            layerDeleted.push(joinName(parentOf(name), base.slice(4)));
            entry.resume();
            continue;
          }
          if (seen.has(name) || hidden(name, deleted) || underOpaque(name)) {
            entry.resume();
            continue;
          }
          seen.add(name);
          // names are written as the layer has them (`./etc/a` stays so), as crane export does
          await pipeline(entry, pack.entry({ ...entry.header }));
        }
        await reading;
        for (const d of layerDeleted) deleted.add(d);
        for (const d of layerOpaque) opaque.add(d);
      }
      pack.finalize();
    })().catch((e: unknown) => {
      pack.destroy(e as Error);
      throw e;
    });
    const [a, b] = await Promise.allSettled([work, writing]);
    if (a.status === 'rejected') throw a.reason;
    if (b.status === 'rejected') throw b.reason;
  });
}

function cleanName(n: string): string {
  const parts: string[] = [];
  for (const p of n.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return parts.join('/') || '.';
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '.' : p.slice(0, i);
}

function joinName(dir: string, base: string): string {
  return dir === '.' ? base : `${dir}/${base}`;
}
