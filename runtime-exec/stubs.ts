import { lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { join, posix } from 'node:path';

interface CopyUp {
  readonly path: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** True when, after the run, the merged dir still showed entries of the lower dirs (so it is not opaque). */
  lowerVisible: boolean;
}

/**
 * Keeps mountpoint stubs out of the layer (BuildKit's MountStubsCleaner does the same). Before the run it
 * records the mount targets missing from the merged view (runc will create them in the upper dir) and the
 * existing parent dirs not yet in the upper dir (creating a stub copies them up). After the run, stubs that
 * are still empty files or dirs are removed from the upper dir, then copied-up parents that are left empty,
 * unchanged (mode, owner) and not opaque. (Synchronous calls: a few dozen stats per step, each cheaper than a
 * thread-pool round trip.)
 */
export class MountStubs {
  readonly #stubs = new Set<string>();
  readonly #copyUps = new Map<string, CopyUp>();

  /** Checks `targets` (absolute container paths) against the merged root and the upper dir before the run. */
  async record(merged: string, upper: string, targets: readonly string[]): Promise<void> {
    for (const t of targets) {
      const parts = posix.normalize(t).split('/').filter(Boolean);
      let cur = '';
      let missing = false;
      for (const [i, p] of parts.entries()) {
        cur += '/' + p;
        if (missing) {
          this.#stubs.add(cur);
          continue;
        }
        let st;
        try {
          st = lstatSync(join(merged, cur));
        } catch {
          missing = true;
          this.#stubs.add(cur);
          continue;
        }
        if (st.isSymbolicLink()) break; // runc resolves it inside the rootfs; we cannot predict: leave it
        if (i < parts.length - 1 && st.isDirectory() && !this.#copyUps.has(cur)) {
          const inUpper = lstatSync(join(upper, cur), { throwIfNoEntry: false }) !== undefined;
          if (!inUpper) this.#copyUps.set(cur, { path: cur, mode: st.mode, uid: st.uid, gid: st.gid, lowerVisible: false });
        }
      }
    }
  }

  /** After the container is gone, while the overlay is still mounted: notes which copied-up dirs are not opaque. */
  async inspect(merged: string, upper: string): Promise<void> {
    for (const c of this.#copyUps.values()) {
      try {
        // Names as bytes (latin1 keeps each byte): Node's strings map every non-UTF-8 name to the same U+FFFD.
        const inMerged = readdirSync(join(merged, c.path), { encoding: 'buffer' }).map((n) => n.toString('latin1'));
        let upperNames: string[] = [];
        try {
          upperNames = readdirSync(join(upper, c.path), { encoding: 'buffer' }).map((n) => n.toString('latin1'));
        } catch {
          // not copied up
        }
        const inUpper = new Set(upperNames);
        c.lowerVisible = inMerged.some((n) => !inUpper.has(n));
      } catch {
        c.lowerVisible = false;
      }
    }
  }

  /** Removes the recorded stubs, then the untouched copied-up parents, from `upper`, deepest first. */
  async removeFrom(upper: string): Promise<void> {
    const depthFirst = (a: string, b: string) => b.split('/').length - a.split('/').length || (a < b ? 1 : -1);
    for (const c of [...this.#stubs].sort(depthFirst)) {
      const p = join(upper, c);
      try {
        const st = lstatSync(p);
        if (st.isFile() && st.size === 0) unlinkSync(p);
        else if (st.isDirectory() && readdirSync(p).length === 0) rmdirSync(p);
      } catch {
        // gone or not removable: nothing to do
      }
    }
    for (const c of [...this.#copyUps.values()].sort((a, b) => depthFirst(a.path, b.path))) {
      if (!c.lowerVisible) continue;
      const p = join(upper, c.path);
      try {
        const st = lstatSync(p);
        if (st.isDirectory() && st.mode === c.mode && st.uid === c.uid && st.gid === c.gid && readdirSync(p).length === 0) rmdirSync(p);
      } catch {
        // not copied up: nothing to do
      }
    }
  }
}
