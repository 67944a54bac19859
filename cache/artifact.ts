/**
 * The cache artifact format shared by --cache-to and --cache-from (registry and local directory):
 * one OCI image manifest with
 *   artifactType  application/vnd.tsbuild.cache.v1
 *   config        the OCI empty descriptor (`{}`, application/vnd.oci.empty.v1+json)
 *   layers[0]     the records (application/vnd.tsbuild.cache.records.v1+json): `{v:1, records:[{key,inputs,result,createdAt}]}`
 *   layers[1..]   every layer blob a record references, with its own media type, then (mode=max)
 *                 one content-addressed tar+gzip per cache mount (application/vnd.tsbuild.cache.mount.v1.tar+gzip,
 *                 annotated with its id, diffID, and the mode/uid/gid of its root directory).
 * Ordinary registries (distribution 2.8 included) store it as an image; skopeo and crane can read it.
 */
import { isDigest, type Descriptor, type Digest } from '../layer-store/index.js';
import { stepKey, type StepInputs } from './keys.js';
import type { CacheRecord } from './store.js';

export const CACHE_ARTIFACT_TYPE = 'application/vnd.tsbuild.cache.v1';
export const CACHE_RECORDS_MEDIA_TYPE = 'application/vnd.tsbuild.cache.records.v1+json';
export const CACHE_MOUNT_MEDIA_TYPE = 'application/vnd.tsbuild.cache.mount.v1.tar+gzip';
export const CACHE_MOUNT_ID_ANNOTATION = 'dev.tsbuild.cache.mount.id';
export const CACHE_MOUNT_DIFFID_ANNOTATION = 'dev.tsbuild.cache.mount.diffid';
export const CACHE_MOUNT_MODE_ANNOTATION = 'dev.tsbuild.cache.mount.mode';
export const CACHE_MOUNT_OWNER_ANNOTATION = 'dev.tsbuild.cache.mount.owner';
export const CACHE_MODE_ANNOTATION = 'dev.tsbuild.cache.mode';
/** The OCI empty JSON blob used as the artifact's config. */
export const EMPTY_CONFIG_BYTES = Buffer.from('{}');
/** The records blob is read whole; a bigger one is refused (about a million records). */
export const MAX_RECORDS_BYTES = 256 * 1024 * 1024;

/** One record as it travels in the artifact (lastUsedAt and per-file source fingerprints are local-only). */
export interface WireRecord {
  readonly key: Digest;
  readonly inputs: StepInputs;
  readonly result: CacheRecord['result'];
  readonly createdAt: number;
}

export interface RecordsDocument {
  readonly v: 1;
  readonly records: readonly WireRecord[];
}

/** Returns the record as exported: `sources.files` dropped (only the digest counts), lastUsedAt dropped. */
export function toWire(r: CacheRecord): WireRecord {
  const inputs: StepInputs = r.inputs.sources ? { ...r.inputs, sources: { digest: r.inputs.sources.digest } } : r.inputs;
  return { key: r.key, inputs, result: r.result, createdAt: r.createdAt };
}

/**
 * Returns the record when `x` is a well-formed record whose key is stepKey(inputs), else a short reason.
 * A record that fails is never used (a wrong key could make a build reuse the wrong layer).
 */
export function checkWireRecord(x: unknown): { ok: true; rec: CacheRecord } | { ok: false; key: string; why: string } {
  if (typeof x !== 'object' || x === null) return { ok: false, key: '?', why: 'not an object' };
  const r = x as Record<string, unknown>;
  const key = typeof r.key === 'string' ? r.key : '?';
  if (!isDigest(r.key)) return { ok: false, key, why: 'key is not a digest' };
  const inputs = r.inputs as Record<string, unknown> | undefined;
  const result = r.result as Record<string, unknown> | undefined;
  if (!inputs || typeof inputs !== 'object' || inputs.v !== 1 || typeof inputs.instruction !== 'string' || typeof inputs.platform !== 'string' || typeof inputs.parent !== 'string' || !Array.isArray(inputs.env) || !Array.isArray(inputs.mounts)) {
    return { ok: false, key, why: 'inputs are malformed' };
  }
  if (!result || typeof result !== 'object' || typeof result.emptyLayer !== 'boolean') return { ok: false, key, why: 'result is malformed' };
  const layer = result.layer as Record<string, unknown> | undefined;
  if (layer !== undefined && (typeof layer !== 'object' || layer === null || !isDigest(layer.digest) || !isDigest(layer.diffId) || typeof layer.size !== 'number' || !Number.isSafeInteger(layer.size) || layer.size < 0 || typeof layer.mediaType !== 'string')) {
    return { ok: false, key, why: 'result layer is malformed' };
  }
  let computed: Digest;
  try {
    computed = stepKey(inputs as unknown as StepInputs);
  } catch {
    return { ok: false, key, why: 'inputs are malformed' };
  }
  if (computed !== r.key) return { ok: false, key, why: `key does not match its inputs (they hash to ${computed})` };
  const createdAt = typeof r.createdAt === 'number' ? r.createdAt : 0;
  return { ok: true, rec: { key: r.key, inputs: inputs as unknown as StepInputs, result: result as unknown as CacheRecord['result'], createdAt, lastUsedAt: createdAt } };
}

/** Returns the directory name a cache mount id maps to under `<root>/cache-mounts` (layer-store's StoreLayout names it). */
export { cacheMountDirName } from '../layer-store/index.js';

/** True when `d` is the records layer of a cache artifact. */
export function isRecordsLayer(d: Descriptor): boolean {
  return d.mediaType === CACHE_RECORDS_MEDIA_TYPE;
}
