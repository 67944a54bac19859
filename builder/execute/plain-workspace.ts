/**
 * The workspace of a build under chroot isolation (`--isolation chroot`, runtime-exec chroot-isolation.ts):
 * nothing is mounted. A step's root filesystem is a plain copy of its layers' snapshots (layer-store
 * materialiseRootfs: cloned or copied, never hard-linked, so no step can write into the store), its state is
 * recorded before the step, and afterwards the tree is walked and what changed is moved into the step's upper dir
 * in overlay form (diffIntoUpper), which commitUpper then packs and installs exactly as it does an overlay's.
 *
 * Left behind on failure: nothing outside the scratch dir; the copy is removed when the step ends, and the scratch
 * dir with the build's.
 */
import { rm } from 'node:fs/promises';
import { diffIntoUpper, materialiseRootfs, recordTree } from '../../layer-store/index.js';
import type { BuildCtx } from './context.js';

/** True when the build's RUN steps run under chroot isolation (so nothing may be mounted). */
export function chrootIsolation(ctx: BuildCtx): boolean {
  return ctx.o.runtime.name === 'chroot-isolation';
}

/**
 * Copies `lower` (top first) into `s.merged`, runs `fn` on it, then writes what `fn` changed into `s.upper` and
 * removes the copy, on success or failure. `ctimeExempt`: files put aside and back by the runtime (relative).
 */
export async function withPlainRootfs<T>(ctx: BuildCtx, lower: readonly string[], s: { merged: string; upper: string }, fn: (root: string) => Promise<T>, ctimeExempt?: readonly string[]): Promise<T> {
  try {
    await materialiseRootfs(lower, s.merged, { signal: ctx.signal, commands: ctx.commands });
    const before = await recordTree(s.merged, { signal: ctx.signal, commands: ctx.commands });
    const r = await fn(s.merged);
    await diffIntoUpper(before, s.upper, { signal: ctx.signal, commands: ctx.commands, ...(ctimeExempt ? { ctimeExempt: new Set(ctimeExempt) } : {}) });
    return r;
  } finally {
    await rm(s.merged, { recursive: true, force: true });
  }
}

/** Returns a plain copy of `lower` (top first) in `dir` for reading (COPY --from); its removal is pushed on `cleanups`. */
export async function plainView(ctx: BuildCtx, lower: readonly string[], dir: string, cleanups: (() => Promise<void>)[]): Promise<string> {
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await materialiseRootfs(lower, dir, { signal: ctx.signal, commands: ctx.commands });
  return dir;
}
