/**
 * cache: step keys (pure), miss explanations (pure), content hashing of COPY sources with a persistent
 * stat cache, the on-disk record store, and export/import of the cache as an OCI artifact (registry or layout dir).
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
export { CacheExportError, CacheFetchError, CacheImportError, type CacheImportReason } from './errors.js';
export {
  CACHE_ARTIFACT_TYPE,
  CACHE_MODE_ANNOTATION,
  CACHE_MOUNT_ID_ANNOTATION,
  CACHE_MOUNT_MEDIA_TYPE,
  CACHE_RECORDS_MEDIA_TYPE,
  cacheMountDirName,
  type RecordsDocument,
  type WireRecord,
} from './artifact.js';
export { LOCAL_CACHE_TAG, exportCache, exportCacheToDir, type CacheMountSource, type ExportCacheOptions } from './export.js';
export { INLINE_CACHE_FIELD, embedInlineCache, readInlineRecords, type InlineEmbedResult } from './inline.js';
export { RemoteCache, importCache, importCacheFromDir, type ImportCacheOptions, type RemoteCacheMount, type RestoredMount } from './import.js';
