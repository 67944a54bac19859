/**
 * From what a user types to a stored image: a tag name (docker-style normalisation), `name@sha256:…`, a
 * manifest or index digest, an image ID (config digest) or a unique hex prefix of an ID or digest (at least 4
 * characters). Read-only: nothing here takes a lock or writes. Every document is read through readBlob, so it
 * is digest-verified before it is parsed; a name that resolves to missing blobs fails with that blob's error.
 */
import {
  formatPlatform, hostPlatform, isAttestationManifest, isDigest, isManifestType, digestHex, parseConfig, parseManifest, platformMatches,
  type Abortable, type Descriptor, type Digest, type ImageConfig, type ImageIndex, type ImageManifest, type Platform,
} from '../core/index.js';
import { readBlob } from './blobs.js';
import { describeManifestBlob } from './closure.js';
import { ImageNotFoundError, InvalidManifestError, InvalidReferenceError } from './errors.js';
import type { ImageEntry } from './image-index.js';
import type { StoreLayout } from './layout.js';
import { parseImageName } from './reference.js';

/** An image manifest in the store with its parsed config. `id` is the config digest (docker's image ID). */
export interface StoredImage {
  readonly kind: 'image';
  readonly descriptor: Descriptor;
  readonly manifest: ImageManifest;
  readonly configDescriptor: Descriptor;
  readonly config: ImageConfig;
  readonly id: Digest;
  /** Normalised names pointing at this manifest (empty: dangling or only reachable by digest). */
  readonly names: readonly string[];
}

/** An image index (or Docker manifest list) in the store. `id` is the index digest. */
export interface StoredIndex {
  readonly kind: 'index';
  readonly descriptor: Descriptor;
  readonly index: ImageIndex;
  readonly id: Digest;
  readonly names: readonly string[];
}

export type StoredObject = StoredImage | StoredIndex;

/** Returns the parsed manifest (with config) or index that `desc` points at. */
export async function loadObject(layout: StoreLayout, desc: Descriptor, names: readonly string[] = []): Promise<StoredObject> {
  const bytes = await readBlob(layout, desc.digest, { kind: 'image manifest' });
  const p = parseManifest(bytes, desc.mediaType, desc.digest);
  const descriptor: Descriptor = { mediaType: p.mediaType, digest: desc.digest, size: bytes.length, ...(desc.platform ? { platform: desc.platform } : {}) };
  if (p.kind === 'index') return { kind: 'index', descriptor, index: p.index, id: desc.digest, names };
  const cfgBytes = await readBlob(layout, p.manifest.config.digest, { kind: 'image config' });
  const config = parseConfig(cfgBytes, p.manifest.config.digest);
  return { kind: 'image', descriptor, manifest: p.manifest, configDescriptor: p.manifest.config, config, id: p.manifest.config.digest, names };
}

/**
 * Returns the stored image or index that `ref` names among `entries` (index.json's, in index order): a tag name
 * (docker-style normalisation, `busybox` = `docker.io/library/busybox:latest`), `name@sha256:…`, a
 * manifest/index digest, an image ID (config digest) or a unique hex prefix of an ID or digest (at least 4
 * characters). Throws ImageNotFoundError, or InvalidReferenceError for a malformed or ambiguous one.
 */
export async function resolveRef(layout: StoreLayout, entries: readonly ImageEntry[], ref: string, _o: Abortable = {}): Promise<StoredObject> {
  const raw = ref.trim();
  // 1. exact index entry name (also names written by other tools, e.g. `latest`)
  const exact = entries.find((e) => e.names.includes(raw));
  if (exact) return loadObject(layout, exact.descriptor, exact.names);
  // 2. a digest
  const digestLike = raw.startsWith('sha256:') ? raw : /^[0-9a-f]{64}$/.test(raw) ? `sha256:${raw}` : undefined;
  if (digestLike !== undefined) {
    if (!isDigest(digestLike)) throw new InvalidReferenceError(ref, 'not a sha256 digest');
    return byDigest(layout, digestLike, entries, ref);
  }
  // 3. a name
  let name: ReturnType<typeof parseImageName> | undefined;
  try {
    name = parseImageName(raw);
  } catch (e) {
    if (!/^[0-9a-f]{4,63}$/.test(raw)) throw e;
  }
  if (name) {
    if (name.digest !== undefined) return byDigest(layout, name.digest, entries, ref);
    const full = `${name.repository}:${name.tag ?? 'latest'}`;
    const e = entries.find((x) => x.names.includes(full));
    if (e) return loadObject(layout, e.descriptor, e.names);
  }
  // 4. an ID prefix
  if (/^(sha256:)?[0-9a-f]{4,63}$/.test(raw)) {
    const prefix = raw.replace(/^sha256:/, '');
    const hits = new Map<Digest, StoredObject>();
    for (const e of entries) {
      const obj = await loadObject(layout, e.descriptor, e.names).catch(() => undefined);
      if (!obj) continue;
      if (digestHex(obj.id).startsWith(prefix) || digestHex(e.descriptor.digest).startsWith(prefix)) hits.set(e.descriptor.digest, obj);
    }
    if (hits.size > 1) throw new InvalidReferenceError(ref, `ambiguous: matches ${hits.size} images`, { hint: 'write more characters of the image ID' });
    const only = [...hits.values()][0];
    if (only) return only;
  }
  throw new ImageNotFoundError(ref);
}

/** Returns the entry with manifest/index digest `d`, else the listed image whose ID is `d`, else the stored manifest `d` unnamed. */
async function byDigest(layout: StoreLayout, d: Digest, entries: readonly ImageEntry[], ref: string): Promise<StoredObject> {
  const e = entries.find((x) => x.descriptor.digest === d);
  if (e) return loadObject(layout, e.descriptor, e.names);
  // an image ID (config digest) of a listed image
  for (const x of entries) {
    const obj = await loadObject(layout, x.descriptor, x.names).catch(() => undefined);
    if (obj && obj.id === d) return obj;
  }
  // the image ID of a platform image in a listed index (a build with attestations names an index: build -q prints the config digest)
  for (const x of entries) {
    const obj = await loadObject(layout, x.descriptor, x.names).catch(() => undefined);
    if (obj?.kind !== 'index') continue;
    for (const c of obj.index.manifests.filter((m) => !isAttestationManifest(m) && isManifestType(m.mediaType))) {
      const img = await loadObject(layout, c, x.names).catch(() => undefined);
      if (img && img.id === d) return img;
    }
  }
  const desc = await describeManifestBlob(layout, d);
  if (desc) return loadObject(layout, desc, []);
  throw new ImageNotFoundError(ref);
}

/**
 * Returns the image of `obj` (what `ref` resolved to); for an index, the child for `platform` (default: the
 * host's, or the only child). Throws ImageNotFoundError when no child matches.
 */
export async function imageFor(layout: StoreLayout, obj: StoredObject, ref: string, platform: Platform | undefined): Promise<StoredImage> {
  if (obj.kind === 'image') return obj;
  const want = platform ?? hostPlatform();
  // Attestation manifests (platform unknown/unknown) are no image to pick.
  const ms = obj.index.manifests.filter((m) => !isAttestationManifest(m));
  const child = ms.find((m) => platformMatches(want, m.platform)) ?? (ms.length === 1 ? ms[0] : undefined);
  if (!child) throw new ImageNotFoundError(`${ref} for ${formatPlatform(want)}`, { hint: `the index lists ${ms.map((m) => (m.platform ? formatPlatform(m.platform) : '?')).join(', ')}` });
  const img = await loadObject(layout, child, obj.names);
  if (img.kind !== 'image') throw new InvalidManifestError(`nested index in ${ref} is not supported`, { location: { ref } });
  return img;
}
