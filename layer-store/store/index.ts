/** The OCI-layout image store (see layout.ts for the on-disk layout, store.ts for the facade and its parts). */
export * from './errors.js';
export * from './reference.js';
export * from './store.js';
export { StoreLayout, rootLayout, stepCacheLayout, statCacheFile, cacheMountDirName, type StepCacheLayout } from './layout.js';
export { writeFileAtomic } from './atomic-write.js';
export type { BlobRanges, ReadBlobOptions } from './blobs.js';
export type { ReferencesOptions } from './closure.js';
export { REF_NAME_ANNOTATION, CONTAINERD_NAME_ANNOTATION, entryName, type ImageEntry } from './image-index.js';
export type { StoredImage, StoredIndex, StoredObject } from './resolve.js';
export type { GcOptions, GcReport } from './gc.js';
export type { FsckReport, FsckFinding, FsckKind, FsckOptions, FsckSeverity } from './fsck.js';
export { TEMP_GRACE_MS } from './fsck.js';
export { findStaleScratch, reclaimStaleScratch, type StaleScratch } from './scratch.js';
export { findLeftoverContainers, reclaimLeftoverContainers, removeContainer, type LeftoverContainer } from './containers.js';
export { withLock, type LockOptions } from './lock.js';
export {
  Lease, leaseDestination, leasesDir, processStartTime, readLiveLeases, withLeasesHeld,
  type LeaseOptions, type LeaseResources, type LiveLeases,
} from './lease.js';
export type { SnapshotOptions } from './snapshot.js';
export { listImageSummaries, imageHistory, type ImageSummary, type HistoryRow } from './summary.js';
