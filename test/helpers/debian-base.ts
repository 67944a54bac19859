import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/**
 * The Debian bookworm base made by `npm run setup` (debootstrap --variant=minbase from the mirror):
 * `tar` is the root filesystem as a tar (numeric owners, sorted names) to import as an image, and `debs`
 * a directory of .deb files (hello, jq and its libraries) that a RUN step can `apt-get install` offline.
 * Returns undefined when setup has not made it (setup needs root and the mirror).
 */
export function debianBase(): { tar: string; debs: string; debFiles: string[] } | undefined {
  const dir = join(repoRoot(), '.tmp', 'debian');
  const tar = join(dir, 'rootfs.tar');
  const debs = join(dir, 'debs');
  if (!existsSync(tar) || !existsSync(debs)) return undefined;
  return { tar, debs, debFiles: readdirSync(debs).filter((f) => f.endsWith('.deb')).sort() };
}
