/**
 * Recovery after a crash: a build killed with SIGKILL cannot clean up. Its scratch dir under `<root>/tmp`
 * (named `build-<pid>-…`) stays, and so may the overlay mounts over it and the runc container still running on
 * them. Before a new build starts, dirs whose owning process is gone are reclaimed (layer-store's
 * `reclaimStaleScratch`, which `tsbuild fsck --repair` runs too): containers whose bundle rootfs is mounted over a
 * stale dir, or that runc's state names as this root's with a dead owner, are killed and deleted, those mounts
 * are lazily unmounted, the dirs removed.
 */
import { reclaimLeftoverContainers, reclaimStaleScratch as reclaim, type Logger, type StoreLayout } from '../../layer-store/index.js';

/** Reclaims stale scratch dirs of the store at `layout` (see the module comment). Never throws; logs what it did. */
export async function reclaimStaleScratch(layout: StoreLayout, log: Logger): Promise<void> {
  // Containers first (they hold the mounts): those whose supervisor died with their build (layer-store containers.ts).
  await reclaimLeftoverContainers(layout.root, log);
  await reclaim(layout.tmpDir, log);
}
