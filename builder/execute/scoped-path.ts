import { lstatSync } from 'node:fs';
import { posix } from 'node:path';
import { fsPath, readlinkName, showName, TsbuildError } from '../../layer-store/index.js';

const MAX_LINKS = 255;

/**
 * Returns the host path of `ctrPath` inside the directory `root`, resolving symlinks as the container
 * would see them: an absolute link target restarts at `root`, and `..` never climbs above `root`.
 * The last component is followed only when `followLast` is true. Missing components are allowed
 * (the rest of the path is appended as is), so the result can be created.
 */
export async function scopedPath(root: string, ctrPath: string, followLast = true): Promise<string> {
  const pending = posix.normalize('/' + ctrPath).split('/').filter((c) => c !== '' && c !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '..') {
      resolved.pop();
      continue;
    }
    const hostPath = posix.join(root, ...resolved, c);
    const isLast = pending.length === 0;
    let st;
    try {
      st = lstatSync(fsPath(hostPath)); // synchronous: an async lstat waits behind the thread pool's compression work
    } catch {
      resolved.push(c, ...pending.filter((p) => p !== '.'));
      return posix.join(root, ...normalizeRest(resolved));
    }
    if (st.isSymbolicLink() && (!isLast || followLast)) {
      if (++links > MAX_LINKS) throw new TsbuildError('BUILD', `too many levels of symbolic links resolving ${showName(ctrPath)}`, { hint: 'fix the symlink loop in the image' });
      const target = await readlinkName(hostPath);
      const parts = target.split('/').filter((p) => p !== '' && p !== '.');
      if (target.startsWith('/')) resolved.length = 0;
      pending.unshift(...parts);
      continue;
    }
    resolved.push(c);
  }
  return posix.join(root, ...resolved);
}

function normalizeRest(parts: string[]): string[] {
  const out: string[] = [];
  for (const p of parts) {
    if (p === '..') out.pop();
    else out.push(p);
  }
  return out;
}
