/**
 * `--cache-to type=inline`: the cache records of the final image's steps (mode=min) travel inside the image
 * itself, in its config under the key `dev.tsbuild.cache.v1` (BuildKit does the same under
 * `moby.buildkit.cache.v0`). The records' layers are the image's own layers, so pushing the image pushes
 * its cache, and `--cache-from type=registry,ref=IMAGE` on another machine can seed the next build from it.
 *
 * The config is an ordinary OCI image config with one extra top-level field (the schema allows it). Records
 * keep their creation time (the history's `created` comes from it), so a build seeded from the image embeds
 * the same bytes again: the same image digest.
 */
import {
  LayerStore,
  MediaTypes,
  isDigest,
  type Abortable,
  type Descriptor,
  type Digest,
  type ImageManifest,
} from '../layer-store/index.js';
import { checkWireRecord, toWire } from './artifact.js';
import { CacheImportError } from './errors.js';
import type { CacheRecord } from './store.js';

/** The config field that holds inline cache records. */
export const INLINE_CACHE_FIELD = 'dev.tsbuild.cache.v1';

/** The largest config read when looking for inline records (records of a few thousand steps). */
export const MAX_INLINE_CONFIG_BYTES = 64 * 1024 * 1024;

export interface InlineEmbedResult {
  /** The new manifest (same layers, config with the records). */
  readonly manifest: Descriptor;
  readonly configDigest: Digest;
  /** Records embedded (deduplicated; those whose layer is not in the image are left out). */
  readonly records: number;
}

/**
 * Returns the descriptor of a copy of the image `manifestDesc` (stored in `store`) whose config carries
 * `records`. Only records whose layer is one of the image's layers (or that have no layer) are embedded:
 * a record pointing at a layer the image does not carry could never be fetched from it. Both new blobs
 * are written to `store`; nothing is tagged (the caller names the result).
 */
export async function embedInlineCache(store: LayerStore, manifestDesc: Descriptor, records: readonly CacheRecord[], o: Abortable = {}): Promise<InlineEmbedResult> {
  const manifest = JSON.parse((await store.readBlob(manifestDesc.digest)).toString('utf8')) as ImageManifest;
  const config = JSON.parse((await store.readBlob(manifest.config.digest, { maxBytes: MAX_INLINE_CONFIG_BYTES })).toString('utf8')) as Record<string, unknown>;
  const inImage = new Set(manifest.layers.map((l) => l.digest));
  const byKey = new Map<Digest, CacheRecord>();
  for (const r of records) if (!r.result.layer || inImage.has(r.result.layer.digest)) byKey.set(r.key, r);
  const wire = [...byKey.values()]
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(toWire);
  config[INLINE_CACHE_FIELD] = { v: 1, records: wire };
  const configDesc = await store.putBytes(Buffer.from(JSON.stringify(config)), { mediaType: manifest.config.mediaType }, o);
  const next: ImageManifest = { ...manifest, config: { mediaType: manifest.config.mediaType, digest: configDesc.digest, size: configDesc.size } };
  const bytes = Buffer.from(JSON.stringify(next));
  const mediaType = manifestDesc.mediaType || MediaTypes.ociManifest;
  const m = await store.putBytes(bytes, { mediaType }, o);
  return {
    manifest: { mediaType, digest: m.digest, size: m.size, ...(manifestDesc.platform ? { platform: manifestDesc.platform } : {}) },
    configDigest: configDesc.digest,
    records: wire.length,
  };
}

/**
 * Returns the verified inline records of an image config (parsed JSON), keyed by step key, the image's
 * layers by digest (where the records' layers are fetched from), and the records skipped as invalid (a
 * record whose layer is not one of `layers` among them). Throws CacheImportError (reason invalid) when the config has no inline cache at all.
 */
export function readInlineRecords(ref: string, config: unknown, layers: readonly Descriptor[]): { records: Map<Digest, CacheRecord>; blobs: Map<Digest, Descriptor>; skipped: { key: string; why: string }[] } {
  const field = typeof config === 'object' && config !== null ? (config as Record<string, unknown>)[INLINE_CACHE_FIELD] : undefined;
  const doc = field as { v?: unknown; records?: unknown } | undefined;
  if (typeof doc !== 'object' || doc === null || doc.v !== 1 || !Array.isArray(doc.records)) {
    throw new CacheImportError(ref, `the image has no inline cache (build it with --cache-to type=inline)`, { reason: 'invalid' });
  }
  const byDigest = new Map(layers.filter((l) => l && isDigest(l.digest) && typeof l.size === 'number').map((l) => [l.digest, l] as const));
  const records = new Map<Digest, CacheRecord>();
  const skipped: { key: string; why: string }[] = [];
  for (const x of doc.records) {
    const c = checkWireRecord(x);
    if (!c.ok) { skipped.push({ key: c.key, why: c.why }); continue; }
    const l = c.rec.result.layer;
    if (l && byDigest.get(l.digest)?.size !== l.size) { skipped.push({ key: c.rec.key, why: `its layer ${l.digest} is not one of the image's layers` }); continue; }
    records.set(c.rec.key, c.rec);
  }
  return { records, blobs: byDigest, skipped };
}
