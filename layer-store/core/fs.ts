/**
 * Small filesystem and path helpers shared by every module (store, cache, builder, runtime). Only node: builtins.
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

/**
 * Orders names by their UTF-8 bytes, i.e. by code point (Go's string order, filepath.Walk's order, tar order),
 * not by UTF-16 code unit as `<` and Array.prototype.sort do; allocates nothing. Negative, 0 or positive.
 */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800-DFFF, i.e. code points above U+FFFF) sort after U+E000-FFFF in UTF-8.
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}
