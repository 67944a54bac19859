/**
 * The build context as a RUN step sees it through `RUN --mount=type=bind` (no `from`).
 *
 * BuildKit sends the daemon only the files .dockerignore keeps, and a bind mount of the context is a view of
 * that copy: the user's directory is never what the step sees, so it can neither read an ignored file nor
 * write to the source tree. tsbuild has the directory itself at hand, so it builds that copy here:
 *
 *  - **Selection.** `source=` is resolved in the context as a COPY source is (symlinks followed inside the
 *    context, .dockerignore applied, a missing or ignored path an error naming it).
 *  - **The view.** When no .dockerignore pattern can hide anything, the context directory (or the selected
 *    subdirectory) is the view's lower layer as it is. Otherwise the kept entries are reproduced below the
 *    step's scratch dir: directories and symlinks are made anew with the same mode, owner and times, files
 *    are hard links to the context's (the same inode: no bytes copied), or copies where a link cannot be made
 *    (another filesystem). A single-file source is always copied.
 *  - **Writes.** A read-only mount binds the view read-only. A writable one (`rw`) mounts an overlay over the
 *    view with a throwaway upper dir: the step may create, change and delete files, overlayfs copies a file up
 *    before its first change, so the context's inodes are never written, and the upper dir is deleted with the
 *    step (BuildKit discards a writable bind mount's changes the same way).
 *
 * Left behind on failure: nothing outside `dir` (the caller's scratch dir, removed with the step); a mounted
 * overlay is unmounted by the cleanup this function registers before it mounts.
 */
import { copyFileSync, chmodSync, linkSync, lchownSync, lutimesSync, mkdirSync, symlinkSync, utimesSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { fsPath, isPlainName, throwIfAborted } from '../../layer-store/core/index.js';
import { mountOverlay, unmount, type ShellRunner } from '../../runtime-exec/index.js';
import type { SelectedSource } from '../context/index.js';

export interface ContextViewOptions {
  /** Whether the step may write (its writes are discarded). */
  readonly writable: boolean;
  /** Whether .dockerignore has patterns (when it has none, the context directory is the lower layer as it is). */
  readonly filtered: boolean;
  readonly commands: ShellRunner;
  readonly signal?: AbortSignal;
}

/** The host path the runtime binds at the mount's target. */
export interface ContextView {
  readonly path: string;
}

/**
 * Returns the host path to bind at the mount target for `sel` (one selected context source), made below
 * `dir` (an empty scratch directory the caller owns and removes). `cleanups` receives the unmount of a writable
 * view's overlay, registered before the mount is made.
 */
export async function contextBindView(contextDir: string, sel: SelectedSource, dir: string, cleanups: (() => Promise<void>)[], o: ContextViewOptions): Promise<ContextView> {
  const srcAbs = sel.resolvedPath === '.' ? contextDir : join(contextDir, sel.resolvedPath);
  if (sel.type !== 'dir') {
    // One file: a copy, whatever the mode (a hard link bound read-write would write the user's file).
    const file = join(dir, 'file');
    const st = sel.entries[0]?.stat;
    copyFileSync(fsPath(srcAbs), file);
    if (st) applyMeta(file, st, false);
    return { path: file };
  }
  let lower = srcAbs;
  // overlayfs takes no ',' or ':' in a lowerdir path, and neither mount options nor runc's JSON spec carry a name
  // that is not UTF-8: such a context directory is reproduced like a filtered one.
  if (o.filtered || !isPlainName(srcAbs) || (o.writable && /[,:\n]/.test(srcAbs))) {
    lower = join(dir, 'lower');
    reproduceTree(srcAbs, sel, lower, o.signal);
  }
  if (!o.writable) return { path: lower };
  const upper = join(dir, 'upper');
  const work = join(dir, 'work');
  const merged = join(dir, 'merged');
  for (const d of [upper, work, merged]) mkdirSync(d);
  let mounted = false;
  cleanups.push(async () => {
    if (mounted) await unmount(merged, o.commands);
  });
  await mountOverlay({ lower: [lower], upper, work, target: merged, emptyLower: join(dir, 'empty'), commands: o.commands });
  mounted = true;
  return { path: merged };
}

/** Makes `to` hold the entries of `sel` (a directory source) as they are in the context below `from`. */
function reproduceTree(from: string, sel: SelectedSource, to: string, signal: AbortSignal | undefined): void {
  const prefix = sel.resolvedPath === '.' ? '' : `${sel.resolvedPath}/`;
  const root = sel.resolvedPath === '.' ? undefined : sel.entries.find((e) => e.relPath === sel.resolvedPath);
  mkdirSync(to);
  const dirs: [string, Stats][] = [];
  if (root) dirs.push([to, root.stat]);
  let n = 0;
  for (const e of sel.entries) {
    if ((++n & 1023) === 0) throwIfAborted(signal);
    if (e.relPath === sel.resolvedPath || !e.relPath.startsWith(prefix)) continue;
    const rel = e.relPath.slice(prefix.length);
    const dst = join(to, rel);
    mkdirSync(fsPath(join(dst, '..')), { recursive: true });
    switch (e.type) {
      case 'dir':
        mkdirSync(fsPath(dst), { recursive: true });
        dirs.push([dst, e.stat]);
        break;
      case 'file':
        try {
          linkSync(fsPath(join(from, rel)), fsPath(dst));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
          copyFileSync(fsPath(join(from, rel)), fsPath(dst));
          applyMeta(dst, e.stat, false);
        }
        break;
      case 'symlink':
        symlinkSync(fsPath(e.linkTarget ?? ''), fsPath(dst));
        applyMeta(dst, e.stat, true);
        break;
      case 'other':
        // Sockets, FIFOs and devices: BuildKit's context transfer carries none of them either.
        break;
    }
  }
  // Children first, so making an entry does not move its directory's times afterwards.
  for (const [d, st] of dirs.reverse()) applyMeta(d, st, false);
}

function applyMeta(name: string, st: Stats, isLink: boolean): void {
  const path = fsPath(name);
  lchownSync(path, st.uid, st.gid);
  if (!isLink) chmodSync(path, Number(st.mode) & 0o7777);
  if (isLink) lutimesSync(path, st.atime, st.mtime);
  else utimesSync(path, st.atime, st.mtime);
}
