/**
 * cache: step keys (pure), miss explanations (pure), content hashing of COPY sources with a persistent
 * stat cache, and the on-disk record store.
 */
export { CacheIoError } from './errors.js';
export { canonicalJson } from './fsutil.js';
export { PROXY_ARGS, explainMiss, keyMaterial, stepKey, type MountKey, type SourceDigest, type StepInputs } from './keys.js';
export { RACY_MARGIN_MS, StatCache, type StatCacheOptions } from './stat-cache.js';
export { hashSources, sha256File, type HashSelection, type HashSourcesOptions } from './hash-sources.js';
export {
  CacheStore,
  type CacheRecord,
  type CacheResult,
  type CachedLayer,
  type CacheStoreOptions,
  type CacheUsage,
  type JsonValue,
  type PruneOptions,
  type PruneReport,
} from './store.js';
