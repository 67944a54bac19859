/** The OCI-layout image store (see store.ts for the on-disk layout). */
export * from './errors.js';
export * from './reference.js';
export * from './store.js';
export type { FsckReport, FsckFinding, FsckKind, FsckOptions, FsckSeverity } from './fsck.js';
export { findStaleScratch, reclaimStaleScratch, type StaleScratch } from './scratch.js';
export { findLeftoverContainers, reclaimLeftoverContainers, removeContainer, type LeftoverContainer } from './containers.js';
export { withLock, type LockOptions } from './lock.js';
export {
  Lease, leaseDestination, leasesDir, processStartTime, readLiveLeases, withLeasesHeld,
  type LeaseOptions, type LeaseResources, type LiveLeases,
} from './lease.js';
export type { SnapshotOptions } from './snapshot.js';
export { listImageSummaries, imageHistory, type ImageSummary, type HistoryRow } from './summary.js';
