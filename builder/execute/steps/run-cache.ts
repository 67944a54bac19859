/**
 * RUN --mount=type=cache: the directory below `<root>/cache-mounts` a cache mount gets, kept between builds, keyed
 * as BuildKit keys it (mounts/mount.go getRefCacheDir: the id, then the base the cache starts from), made on
 * first use, leased; `sharing=locked` waits for the step holding it, `sharing=private` takes a free instance of its
 * own (a new one when every instance is held), within this process.
 *
 * The base (dockerfile2llb dispatchRunMounts): empty; or with `from=` a copy of that stage's or image's files; and
 * without `source=`, when uid, gid or mode is given, a fresh directory with that owner and mode (`/cache` in the
 * base, so in the copy of `from` when there is one). `source=` mounts that path of the cache, resolved inside it.
 */
import { randomUUID } from 'node:crypto';
import { chmod, lchown, mkdir, rename, rm, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { exists, type CommandRunner } from '../../../layer-store/index.js';
import type { Mount } from '../../../runtime-exec/index.js';
import type { ResolvedStage, RunMount } from '../../frontend/index.js';
import { BuildError, layersKey } from '../../plan/index.js';
import { sourceLayers } from '../base-image.js';
import { diffIdsOf, type BuildCtx } from '../context.js';
import { scopedPath } from '../scoped-path.js';
import { mountView } from '../workspace.js';

/** True when the mount sets the owner or mode of its fresh directory. */
function hasOwner(m: RunMount): boolean {
  return m.uid !== undefined || m.gid !== undefined || m.mode !== undefined;
}

/** The source path in the cache, `/` for the whole cache (BuildKit: path.Join("/", source)). */
function sourceIn(m: RunMount): string {
  return posix.join('/', m.source ?? '');
}

/**
 * Returns the identity of a cache mount's directory: the id (default the target, cleaned), then, when the cache
 * has a base, `:` and what it is: `from=<layers of the source>` and/or `mkdir uid= gid= mode=` (without source=).
 * `fromLayers`: layersKey of the `from=` stage or image.
 */
export function cacheMountId(m: RunMount, fromLayers?: string): string {
  const id = m.id ?? posix.normalize(m.target ?? '/').replace(/(.)\/+$/, '$1');
  const base: string[] = [];
  if (m.from !== undefined) base.push(`from=${fromLayers ?? m.from}`);
  if (sourceIn(m) === '/' && hasOwner(m)) base.push(`mkdir uid=${m.uid ?? 0} gid=${m.gid ?? 0} mode=${(m.mode ?? 0o755).toString(8)}`);
  return base.length ? `${id}:${base.join(' ')}` : id;
}

/** Makes the cache directory `dir` (atomically: a sibling made whole, then renamed), with the base of `m`. */
async function createCacheDir(ctx: BuildCtx, rs: ResolvedStage, m: RunMount, dir: string, cleanups: (() => Promise<void>)[]): Promise<void> {
  const tmp = `${dir}.tmp-${randomUUID().slice(0, 8)}`;
  try {
    await mkdir(tmp, { recursive: true });
    if (m.from !== undefined) {
      const view = await mountView(ctx, await sourceLayers(ctx, rs, m.from), cleanups);
      await run(ctx.commands, 'cp', ['-a', '--', `${view}/.`, `${tmp}/`]);
    }
    const owned = m.from !== undefined && sourceIn(m) === '/' && hasOwner(m) ? posix.join(tmp, 'cache') : tmp;
    if (owned !== tmp) await mkdir(owned, { recursive: true });
    if (owned !== tmp || hasOwner(m) || m.from === undefined) {
      await chmod(owned, m.mode ?? 0o755);
      await lchown(owned, m.uid ?? 0, m.gid ?? 0);
    }
    await rename(tmp, dir).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e; // made meanwhile by another build: use that one
      await rm(tmp, { recursive: true, force: true });
    });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

/**
 * Returns the id of a `sharing=private` cache instance this step may use alone, as BuildKit does: the first of `id`,
 * `id#2`, `id#3`, … that no running step of this build holds (each a cache of its own, reused when free). Held
 * until `cleanups` run.
 */
function privateInstance(ctx: BuildCtx, id: string, cleanups: (() => Promise<void>)[]): string {
  let n = 1;
  const name = (): string => (n === 1 ? id : `${id}#${n}`);
  while (ctx.cacheMountLocks.has(`private:${name()}`)) n++;
  const held = `private:${name()}`;
  ctx.cacheMountLocks.set(held, Promise.resolve());
  cleanups.push(async () => { ctx.cacheMountLocks.delete(held); });
  return name();
}

async function run(commands: CommandRunner, cmd: string, args: string[]): Promise<void> {
  const r = await commands.run(cmd, args);
  if (r.code !== 0) throw new BuildError(`${cmd} failed while preparing a cache mount: ${r.stderr.trim()}`, { hint: 'check the free space and permissions of the store root' });
}

/** Returns the mount of a cache mount `m` at `target` (see the header); a lock it takes is released by `cleanups`. */
export async function cacheMount(ctx: BuildCtx, rs: ResolvedStage, m: RunMount, target: string, cleanups: (() => Promise<void>)[]): Promise<Mount> {
  const from = m.from !== undefined ? layersKey(await diffIdsOf(await sourceLayers(ctx, rs, m.from))) : undefined;
  let cid = cacheMountId(m, from);
  if (m.sharing === 'private') cid = privateInstance(ctx, cid, cleanups);
  const dir = ctx.layout.cacheMountPath(cid);
  await ctx.lease.add({ paths: [ctx.layout.cacheMountLeasePath(cid)] });
  ctx.cacheMountsUsed.set(cid, dir);
  if (!(await exists(dir))) await createCacheDir(ctx, rs, m, dir, cleanups);
  if (m.sharing === 'locked') {
    const prev = ctx.cacheMountLocks.get(dir) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    ctx.cacheMountLocks.set(dir, prev.then(() => mine));
    await prev;
    cleanups.push(async () => release());
  }
  const sub = sourceIn(m) !== '/' ? sourceIn(m) : m.from !== undefined && hasOwner(m) ? '/cache' : '/';
  let source = dir;
  if (sub !== '/') {
    // Resolved inside the cache (a symlink in it cannot lead out), and it must be a directory there.
    source = await scopedPath(dir, sub, true);
    const st = await stat(source).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new BuildError(`cache mount ${m.id ?? target}: source ${JSON.stringify(m.source ?? sub)} is not a directory in the cache`, {
        hint: 'create it in the cache first (an earlier RUN with the same cache mount), or drop source=',
      });
    }
  }
  return { type: 'bind', source, target, readonly: m.readOnly };
}
