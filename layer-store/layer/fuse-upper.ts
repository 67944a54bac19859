/**
 * An upper dir written by fuse-overlayfs (rootless mode's fallback overlay, runtime-exec/fuse-overlay.ts) in the
 * kernel overlayfs's form, which the packer reads and the store keeps as snapshots (layer lower dirs of later
 * mounts, by either program): fuse-overlayfs marks an opaque dir with `user.fuseoverlayfs.opaque=y`, an empty
 * `.wh..wh..opq` file and a `.wh..opq` 0/0 device inside it, makes whiteouts as `.wh.NAME` files where mknod of
 * a 0/0 device is refused, and leaves `user.fuseoverlayfs.*` xattrs (e.g. `origin`) on copied-up files.
 *
 * fuse-overlayfs marks EVERY directory made by mkdir opaque (its mkdir passes set_opaque), where the kernel
 * marks one only when it is made over a whiteout, i.e. where the lower dirs showed something at that path
 * (ovl_create_over_whiteout); a copy-up is opaque in neither. So a fuse-opaque dir is opaque here only when the
 * lower dirs' merged view has an entry at its path, as the kernel would have made it; and none below a dir made
 * by mkdir is (nothing of the lower dirs shows there). Such a dir gets the overlay opaque xattr
 * (`user.overlay.opaque` rootless), a `.wh.NAME` file becomes the 0/0 device NAME, and the marks and
 * `user.fuseoverlayfs.*` xattrs are removed. Its copy-up also drops setuid, setgid and sticky bits (mkdir ignores
 * them, chown clears them): they are given back from the lower entry (restoreSpecialBits). One walk, one getfattr over the lower dirs, and a setfattr per kind
 * of change (not per file).
 */
import { execFile } from 'node:child_process';
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fsPath, overlayXattrPrefix } from '../core/index.js';
import { mknod } from './apply-entry.js';
import { LayerToolError } from './errors.js';
import { readdirNamesSync } from './fs-names.js';
import { readXattrOf, readXattrTree, writeXattrs, type XattrTable } from './xattr.js';

const FUSE_XATTR_PREFIX = 'user.fuseoverlayfs.';
const OPAQUE_FILE = '.wh..wh..opq';
const OPAQUE_DEVICE = '.wh..opq';
const WHITEOUT_PREFIX = '.wh.';
/** Paths per setfattr call (well under the kernel's argument size limit). */
const ARGS_PER_CALL = 500;

function removeXattr(name: string, paths: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('setfattr', ['-h', '-x', name, '--', ...paths], (err, _o, stderr) => {
      if (err) reject(new LayerToolError('setfattr', `-x ${name}: ${String(stderr).trim() || err.message}`, { cause: err }));
      else resolve();
    });
  });
}

type Kind = 'none' | 'whiteout' | 'dir' | 'other';

function kindAt(path: string): Kind {
  const st = lstatSync(fsPath(path), { throwIfNoEntry: false });
  if (!st) return 'none';
  if (st.isCharacterDevice() && st.rdev === 0) return 'whiteout';
  return st.isDirectory() ? 'dir' : 'other';
}

/**
 * Returns, for each of `rels` (relative, '/'-separated) at which the overlay of `lower` (top first) shows an
 * entry, the path of that entry in its layer: each layer, top down, until one has the path, or a whiteout of it
 * or of a parent, or a non-dir parent, or an opaque parent dir (whose own entry still counts).
 */
async function lowerEntries(lower: readonly string[], rels: readonly string[]): Promise<Map<string, string>> {
  const opaqueKey = `${overlayXattrPrefix()}opaque`;
  const parentDirs = new Set<string>();
  for (const rel of rels) {
    const parts = rel.split('/');
    for (const l of lower) for (let i = 1; i < parts.length; i++) parentDirs.add(join(l, ...parts.slice(0, i)));
  }
  const existing = [...parentDirs].filter((p) => kindAt(p) === 'dir');
  const opaqueTable = new Map<string, Map<string, Buffer>>();
  for (let i = 0; i < existing.length; i += ARGS_PER_CALL) {
    for (const [k, v] of await readXattrOf(existing.slice(i, i + ARGS_PER_CALL), opaqueKey)) opaqueTable.set(k, v);
  }
  const isOpaqueDir = (p: string) => opaqueTable.get(p)?.get(opaqueKey)?.toString() === 'y';
  const found = new Map<string, string>();
  for (const rel of rels) {
    const parts = rel.split('/');
    layers: for (const l of lower) {
      let stopBelow = false;
      for (let i = 1; i < parts.length; i++) {
        const k = kindAt(join(l, ...parts.slice(0, i)));
        if (k === 'none') continue layers;
        if (k !== 'dir') break layers; // a whiteout or a file hides the path in every layer below
        if (isOpaqueDir(join(l, ...parts.slice(0, i)))) stopBelow = true;
      }
      const k = kindAt(join(l, rel));
      if (k === 'dir' || k === 'other') found.set(rel, join(l, rel));
      if (k !== 'none' || stopBelow) break;
    }
  }
  return found;
}

/** The mode bits that fuse-overlayfs's copy-up loses (its mkdir ignores them, and its chown clears them). */
const SPECIAL_BITS = 0o7000;

/**
 * Gives copied-up `entries` (relative path → upper path) the setuid, setgid and sticky bits of their lower
 * entry when fuse-overlayfs dropped them: same type and permission bits (and owner, for a file), and only bits
 * missing. (A step
 * that cleared such a bit with chmod and changed nothing else is read as a copy-up: a limit of the fallback.)
 * Returns how many were restored.
 */
function restoreSpecialBits(entries: ReadonlyMap<string, string>, found: ReadonlyMap<string, string>): number {
  let n = 0;
  for (const [rel, up] of entries) {
    const low = found.get(rel);
    if (!low) continue;
    const a = lstatSync(fsPath(up));
    const b = lstatSync(fsPath(low));
    if ((b.mode & SPECIAL_BITS) === 0 || (a.mode & 0o170000) !== (b.mode & 0o170000) || a.isSymbolicLink()) continue;
    // A chown keeps a dir's bits but clears a file's (the kernel's rule): a file must keep its owner to count.
    if ((!a.isDirectory() && (a.uid !== b.uid || a.gid !== b.gid)) || (a.mode & 0o777) !== (b.mode & 0o777)) continue;
    if ((a.mode & SPECIAL_BITS) === (b.mode & SPECIAL_BITS) || (a.mode & SPECIAL_BITS & ~b.mode) !== 0) continue;
    chmodSync(fsPath(up), b.mode & 0o7777);
    n++;
  }
  return n;
}

/**
 * Rewrites the fuse-overlayfs upper dir `dir` in place into overlayfs's form (see the module comment). `table`,
 * the dir's xattrs read before (readXattrTree), is updated to match; without it they are read here. Returns how
 * many opaque dirs and whiteouts were rewritten.
 */
export async function normaliseFuseOverlayUpper(dir: string, lower: readonly string[], table?: XattrTable): Promise<{ opaque: number; whiteouts: number; restored: number }> {
  const xattrs = table ?? (await readXattrTree(dir));
  // Dirs fuse-overlayfs made by mkdir (opaque to it) whose parent it copied up: candidates, by relative path.
  const candidates: string[] = [];
  // Entries not below a dir made by mkdir: copy-ups among them may have lost mode bits.
  const kept = new Map<string, string>();
  const whiteouts: string[] = [];
  const visit = (d: string, rel: string, underMade: boolean): void => {
    for (const n of readdirNamesSync(d)) {
      const p = join(d, n);
      const st = lstatSync(fsPath(p));
      if ((n === OPAQUE_FILE && st.isFile()) || (n === OPAQUE_DEVICE && st.isCharacterDevice() && st.rdev === 0)) {
        unlinkSync(fsPath(p));
      } else if (n.startsWith(WHITEOUT_PREFIX) && n.length > WHITEOUT_PREFIX.length && st.isFile() && st.size === 0) {
        whiteouts.push(p);
      } else {
        const r = rel === '' ? n : `${rel}/${n}`;
        if (!st.isDirectory()) {
          if (!underMade && (st.isFile() || st.isDirectory())) kept.set(r, p);
          continue;
        }
        const made = xattrs.get(p)?.get(`${FUSE_XATTR_PREFIX}opaque`)?.toString() === 'y'
          || lstatSync(fsPath(join(p, OPAQUE_FILE)), { throwIfNoEntry: false })?.isFile() === true;
        if (made && !underMade) candidates.push(r);
        else if (!underMade) kept.set(r, p);
        visit(p, r, underMade || made);
      }
    }
  };
  visit(dir, '', false);
  const found = await lowerEntries(lower, [...candidates, ...kept.keys()]);
  const opaque = candidates.filter((r) => found.has(r)).map((r) => join(dir, r));
  const restored = restoreSpecialBits(kept, found);
  for (const p of whiteouts) {
    const target = join(p, '..', p.slice(p.lastIndexOf('/') + 1 + WHITEOUT_PREFIX.length));
    unlinkSync(fsPath(p));
    await mknod(target, 'c', 0, 0, 0o000, dir);
  }
  const stale = new Map<string, string[]>();
  const inodes = new Map<string, Set<string>>(); // xattr name → dev:ino done (hard links share their xattrs)
  for (const [path, m] of xattrs) {
    for (const k of m.keys()) {
      if (!k.startsWith(FUSE_XATTR_PREFIX)) continue;
      m.delete(k);
      const st = lstatSync(fsPath(path), { throwIfNoEntry: false });
      if (!st) continue;
      const seen = inodes.get(k) ?? new Set<string>();
      inodes.set(k, seen);
      if (seen.has(`${st.dev}:${st.ino}`)) continue;
      seen.add(`${st.dev}:${st.ino}`);
      stale.set(k, [...(stale.get(k) ?? []), path]);
    }
  }
  for (const [k, paths] of stale) {
    for (let i = 0; i < paths.length; i += ARGS_PER_CALL) await removeXattr(k, paths.slice(i, i + ARGS_PER_CALL));
  }
  const opaqueKey = `${overlayXattrPrefix()}opaque`;
  const set: [string, Map<string, Buffer>][] = opaque.map((p) => [p, new Map([[opaqueKey, Buffer.from('y')]])]);
  await writeXattrs(set);
  for (const [p, m] of set) {
    const have = xattrs.get(p) ?? new Map<string, Buffer>();
    for (const [k, v] of m) have.set(k, v);
    xattrs.set(p, have);
  }
  return { opaque: set.length, whiteouts: whiteouts.length, restored };
}
