/**
 * The merged file tree of an image's layer directories, as the kernel's overlayfs would show it, without
 * mounting anything: the SBOM scanners read files through it.
 *
 * Layers are walked top first. A whiteout hides the path in every lower layer: an overlay whiteout (a 0/0
 * character device, as LayerStore snapshots hold them) or an OCI `.wh.NAME` file (a layer unpacked as plain
 * files). An opaque directory hides the lower layers' children: `trusted.overlay.opaque=y` (read with one
 * `getfattr -R` per layer above the lowest; `user.overlay.opaque` too) or a `.wh..wh..opq` file. A non-directory in an upper layer hides
 * whatever a lower layer has at that path, subtree included. Symlinks are never followed while walking;
 * `resolve` follows them inside the tree (an absolute target is relative to the tree's root, as in a chroot).
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsPath, throwIfAborted } from '../../../layer-store/core/index.js';
import { readXattrTree, readdirNames, readlinkName } from '../../../layer-store/index.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

/** One visible entry: `path` is relative to the root, without a leading slash ('' is the root). */
export interface TreeEntry {
  readonly path: string;
  /** Where it is on disk (in the layer that provides it). */
  readonly abs: string;
  readonly type: EntryType;
  readonly size: number;
  readonly mode: number;
  /** Index in the layer list (0 = lowest). */
  readonly layer: number;
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
const MAX_LINKS = 40; // as the kernel's MAXSYMLINKS

export class MergedTree {
  readonly #entries: Map<string, TreeEntry>;
  readonly #children: Map<string, string[]>;
  readonly #sorted: string[];

  private constructor(entries: Map<string, TreeEntry>) {
    this.#entries = entries;
    this.#children = new Map();
    this.#sorted = [...entries.keys()].sort();
    for (const p of this.#sorted) {
      if (p === '') continue;
      const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
      let c = this.#children.get(parent);
      if (!c) this.#children.set(parent, (c = []));
      c.push(p);
    }
  }

  /** Returns the tree of `layers` (lowest first; one directory is a plain root). */
  static async open(layers: readonly string[], o: { signal?: AbortSignal | undefined } = {}): Promise<MergedTree> {
    const entries = new Map<string, TreeEntry>();
    const hidden = new Set<string>(); // whited out for the layers below the current one
    const opaque = new Set<string>(); // directories whose lower children are hidden
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i]!;
      const opaqueXattr = i > 0 ? await opaqueDirs(layer, o.signal) : new Set<string>();
      const newHidden: string[] = [];
      const newOpaque: string[] = [];
      const st = await lstat(fsPath(layer));
      if (!entries.has('')) entries.set('', { path: '', abs: layer, type: 'dir', size: 0, mode: st.mode, layer: i });
      const walk = async (rel: string, abs: string): Promise<void> => {
        throwIfAborted(o.signal);
        if (opaqueXattr.has(abs)) newOpaque.push(rel);
        const names = (await readdirNames(abs)).sort();
        if (names.includes(OPAQUE)) newOpaque.push(rel);
        for (const name of names) {
          if (name === OPAQUE) continue;
          const childAbs = join(abs, name);
          if (name.startsWith(WH)) {
            if (!name.startsWith(WH + WH)) newHidden.push(rel === '' ? name.slice(WH.length) : `${rel}/${name.slice(WH.length)}`);
            continue;
          }
          const childRel = rel === '' ? name : `${rel}/${name}`;
          if (hidden.has(childRel) || opaque.has(rel)) continue;
          const cst = await lstat(fsPath(childAbs));
          if (cst.isCharacterDevice() && cst.rdev === 0) { newHidden.push(childRel); continue; }
          const type: EntryType = cst.isFile() ? 'file' : cst.isDirectory() ? 'dir' : cst.isSymbolicLink() ? 'symlink' : 'other';
          const above = entries.get(childRel);
          if (above) {
            if (above.type === 'dir' && type === 'dir') await walk(childRel, childAbs);
            continue; // an upper non-directory (or an upper directory over a lower file) hides this one
          }
          entries.set(childRel, { path: childRel, abs: childAbs, type, size: cst.size, mode: cst.mode, layer: i });
          if (type === 'dir') await walk(childRel, childAbs);
        }
      };
      await walk('', layer);
      for (const h of newHidden) hidden.add(h);
      for (const d of newOpaque) opaque.add(d);
    }
    return new MergedTree(entries);
  }

  /** Returns the entry at `path` (relative or absolute in the tree), symlinks not followed. */
  get(path: string): TreeEntry | undefined {
    return this.#entries.get(normalize(path));
  }

  /** Returns every visible entry, sorted by path. */
  *entries(): IterableIterator<TreeEntry> {
    for (const p of this.#sorted) yield this.#entries.get(p)!;
  }

  /** Returns the entries directly inside directory `path` (not resolved), sorted. */
  list(path: string): TreeEntry[] {
    return (this.#children.get(normalize(path)) ?? []).map((p) => this.#entries.get(p)!);
  }

  /**
   * Returns the bytes of the regular file at `path` (symlinks followed), or undefined when there is none or it
   * is larger than `max` bytes (default 256 MiB).
   */
  async readFile(path: string, max = 256 * 1024 * 1024): Promise<Buffer | undefined> {
    const e = await this.resolve(path);
    if (!e || e.type !== 'file' || e.size > max) return undefined;
    return readFile(fsPath(e.abs));
  }

  /**
   * Returns the entry `path` names after following symlinks (in every component) inside the tree, or undefined
   * when it does not exist, a link loops, or a link leaves through `..` above the root (clamped, as in a chroot).
   */
  async resolve(path: string): Promise<TreeEntry | undefined> {
    let links = 0;
    const todo = normalize(path).split('/').filter((s) => s !== '' && s !== '.');
    const done: string[] = [];
    while (todo.length > 0) {
      const part = todo.shift()!;
      if (part === '..') { done.pop(); continue; }
      const cur = [...done, part].join('/');
      const e = this.#entries.get(cur);
      if (!e) return undefined;
      if (e.type === 'symlink') {
        if (++links > MAX_LINKS) return undefined;
        const target = await readlinkName(e.abs);
        if (target.startsWith('/')) done.length = 0;
        todo.unshift(...target.split('/').filter((s) => s !== '' && s !== '.'));
        continue;
      }
      if (todo.length > 0 && e.type !== 'dir') return undefined;
      done.push(part);
    }
    return this.#entries.get(done.join('/'));
  }
}

/** Returns `path` without leading/trailing slashes or `./` (the tree's key form). */
function normalize(path: string): string {
  return path.replace(/^(\.?\/)+/, '').replace(/\/+$/, '');
}

/**
 * Returns the absolute paths of the directories under `layer` marked opaque: `trusted.overlay.opaque=y`, or
 * `user.overlay.opaque=y` (overlays mounted with userxattr, as rootless ones are).
 */
async function opaqueDirs(layer: string, signal: AbortSignal | undefined): Promise<Set<string>> {
  const out = new Set<string>();
  for (const [p, attrs] of await readXattrTree(layer, signal)) {
    const v = (attrs.get('trusted.overlay.opaque') ?? attrs.get('user.overlay.opaque'))?.toString();
    if (v === 'y') out.add(p.replace(/\/+$/, ''));
  }
  return out;
}
