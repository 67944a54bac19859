/**
 * The workspace of a build under chroot isolation (`--isolation chroot`, runtime-exec chroot-isolation.ts):
 * nothing is mounted. A step's root filesystem is a plain copy of its layers' snapshots (layer-store
 * materialiseRootfs: cloned or copied, never hard-linked, so no step can write into the store), its state is
 * recorded before the step, and afterwards the tree is walked and what changed is copied into the step's upper dir
 * in overlay form (diffIntoUpper), which commitUpper then packs and installs exactly as it does an overlay's.
 *
 * The tree is then kept for the next step of the same chain (a build-wide pool): when a step's lower dirs are the
 * kept tree's plus the snapshot installed from its upper dir (the same inode: installSnapshot renames it), or the
 * same lower dirs when the step changed nothing, it starts from that tree and its recorded state instead of copying
 * the whole stage again. Any other step (a cache hit came between, another stage) copies afresh.
 *
 * Left behind on failure: nothing outside the build's scratch dir (removed with it); a failed step's tree is removed.
 */
import { renameSync, rmdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { diffIntoUpper, materialiseRootfs, recordTree, type TreeState } from '../../layer-store/index.js';
import type { BuildCtx } from './context.js';

/** True when the build's RUN steps run under chroot isolation (so nothing may be mounted). */
export function chrootIsolation(ctx: BuildCtx): boolean {
  return ctx.o.runtime.name === 'chroot-isolation';
}

/** A tree a step left, waiting for the next step of its chain. */
interface KeptTree {
  readonly dir: string;
  /** The lower dirs the step ran on (top first). */
  readonly lower: readonly string[];
  /** The step's upper dir (dev, ino): the top lower dir of the next step once installed as a snapshot. */
  readonly upper: { readonly dev: number; readonly ino: number };
  /** The step changed nothing: the same lower dirs fit too. */
  readonly unchanged: boolean;
  readonly state: TreeState;
}

const pools = new WeakMap<BuildCtx, KeptTree[]>();

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Takes the kept tree that holds exactly `lower` (top first) out of the pool, if there is one. */
function takeTree(ctx: BuildCtx, lower: readonly string[]): KeptTree | undefined {
  const pool = pools.get(ctx) ?? [];
  const i = pool.findIndex((k) => {
    if (k.unchanged && sameList(lower, k.lower)) return true;
    if (lower.length !== k.lower.length + 1 || !sameList(lower.slice(1), k.lower)) return false;
    const st = statSync(lower[0]!, { throwIfNoEntry: false });
    return st !== undefined && st.dev === k.upper.dev && st.ino === k.upper.ino;
  });
  return i < 0 ? undefined : pool.splice(i, 1)[0];
}

/**
 * Puts the merged view of `lower` (top first) in `s.merged` (a kept tree, else a fresh copy), runs `fn` on it, then
 * copies what `fn` changed into `s.upper` and keeps the tree for the next step; on failure the tree is removed.
 * `ctimeExempt`: files put aside and back by the runtime (relative).
 */
export async function withPlainRootfs<T>(ctx: BuildCtx, lower: readonly string[], s: { merged: string; upper: string }, fn: (root: string) => Promise<T>, ctimeExempt?: readonly string[]): Promise<T> {
  let kept = false;
  try {
    let before: TreeState;
    const k = takeTree(ctx, lower);
    if (k) {
      rmdirSync(s.merged);
      renameSync(k.dir, s.merged);
      before = { ...k.state, root: s.merged };
    } else {
      await materialiseRootfs(lower, s.merged, { signal: ctx.signal, commands: ctx.commands });
      before = await recordTree(s.merged, { signal: ctx.signal, commands: ctx.commands });
    }
    const r = await fn(s.merged);
    const d = await diffIntoUpper(before, s.upper, { signal: ctx.signal, commands: ctx.commands, keepTree: true, ...(ctimeExempt ? { ctimeExempt: new Set(ctimeExempt) } : {}) });
    const up = statSync(s.upper);
    let pool = pools.get(ctx);
    if (!pool) pools.set(ctx, pool = []);
    pool.push({ dir: s.merged, lower: [...lower], upper: { dev: up.dev, ino: up.ino }, unchanged: d.added + d.whiteouts === 0, state: d.state });
    kept = true;
    return r;
  } finally {
    if (!kept) await rm(s.merged, { recursive: true, force: true });
  }
}

/** Returns a plain copy of `lower` (top first) in `dir` for reading (COPY --from); its removal is pushed on `cleanups`. */
export async function plainView(ctx: BuildCtx, lower: readonly string[], dir: string, cleanups: (() => Promise<void>)[]): Promise<string> {
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await materialiseRootfs(lower, dir, { signal: ctx.signal, commands: ctx.commands });
  return dir;
}
