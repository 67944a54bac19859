/**
 * Small filesystem helpers shared by every module (store, cache, builder, runtime). Only node: builtins.
 * (Name order, compareNames, is file-names.ts's: names are bytes.)
 */
import { lstat, stat } from 'node:fs/promises';

/**
 * Returns true when something is at `path`: any entry, a dangling symlink included (lstat), or with
 * `followSymlinks` only when the path resolves to an existing file or directory (stat). Any error reads as false.
 */
export async function exists(path: string, o: { readonly followSymlinks?: boolean } = {}): Promise<boolean> {
  try {
    await (o.followSymlinks ? stat(path) : lstat(path));
    return true;
  } catch {
    return false;
  }
}
