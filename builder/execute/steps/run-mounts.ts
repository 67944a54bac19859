/**
 * RUN --mount materialisation: what each (expanded) mount gives the runtime, and how it enters the step's key.
 * cache: a directory below `<root>/cache-mounts` (run-cache.ts);
 * secret: a file in the step's scratch dir (mode 0400 by default) and/or a variable, never in keys, config or
 * history; bind: a view of the context (context-view.ts) or an overlay view of a stage or image; tmpfs: as is.
 *
 * Left behind on failure: every view, secret file and cache-mount lock is released by the caller's LIFO
 * `cleanups` stack; a cache-mount directory stays (it is the cache).
 */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, writeFile, lchown } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { TsbuildError } from '../../../layer-store/index.js';
import type { Mount } from '../../../runtime-exec/index.js';
import { hashSources, cacheMountDirName, type MountKey } from '../../../cache/index.js';
import type { RunMount } from '../../frontend/index.js';
import { selectSources, type SelectedSource } from '../../context/index.js';
import { BuildError, layersKey, mountMaterial } from '../../plan/index.js';
import type { SecretSource } from '../options.js';
import { diffIdsOf, type BuildCtx } from '../context.js';
import type { ResolvedStage } from '../../frontend/index.js';
import { sourceLayers } from '../base-image.js';
import { sourceDir, type SourceDir } from '../named-dirs.js';
import { contextBindView } from '../context-view.js';
import { scopedPath } from '../scoped-path.js';
import { mountView, type Scratch } from '../workspace.js';
import { cacheMount } from './run-cache.js';

/**
 * A mount as it enters the step's key (plan's mountMaterial). A bind mount's source counts by its content, as
 * BuildKit's does: the digest of the context files it selects (what .dockerignore keeps), or the source stage's
 * or image's layers. A context selection is kept in `selected` for runMounts.
 */
export async function mountKey(ctx: BuildCtx, rs: ResolvedStage, m: RunMount, selected: Map<RunMount, SelectedSource>): Promise<MountKey> {
  if (m.from !== undefined && (m.type === 'bind' || m.type === 'cache')) return mountMaterial(m, layersKey(await diffIdsOf(await sourceLayers(ctx, rs, m.from))));
  if (m.type !== 'bind') return mountMaterial(m);
  const src = await sourceDir(ctx, m.from);
  if (!src) return mountMaterial(m, layersKey(await diffIdsOf(await sourceLayers(ctx, rs, m.from!))));
  const sel = await selectBindSource(src, m, ctx.signal);
  selected.set(m, sel); // runMounts mounts exactly what was keyed, without walking the context again
  return mountMaterial(m, ctx.statCache ? (await hashSources(src.dir, { sources: [sel], paths: sel.entries.map((e) => e.relPath) }, ctx.statCache, { signal: ctx.signal, memo: true, commands: ctx.commands })).digest : `context:${src.dir}`);
}

/**
 * The path a bind mount of the context (or of a directory named context) selects, .dockerignore applied; a
 * missing or ignored one is an error naming it.
 */
async function selectBindSource(src: SourceDir, m: RunMount, signal: AbortSignal): Promise<SelectedSource> {
  try {
    const sel = await selectSources(src.dir, [m.source ?? '.'], src.ignore.matcher, { signal });
    return sel.sources[0]!;
  } catch (e) {
    if (TsbuildError.is(e) && e.code === 'CONTEXT') {
      throw new BuildError(e.message.replace(/^COPY source/, `RUN --mount=type=bind source`), { hint: e.hint ?? 'check the mount\'s source= path in the build context' });
    }
    throw e;
  }
}

/** What a RUN step's mounts give the runtime: the mounts, and the variables secrets with `env=` set. */
export interface RunMountsResult {
  readonly mounts: Mount[];
  readonly env: Map<string, string>;
  /** Variables set only when the step's env lacks them: SSH_AUTH_SOCK (the first ssh mount's target). */
  readonly defaults: Map<string, string>;
}

/** Materialises `mounts` for one RUN (see the header); undoing it is pushed on `cleanups`. */
export async function runMounts(ctx: BuildCtx, rs: ResolvedStage, mounts: readonly RunMount[], selected: ReadonlyMap<RunMount, SelectedSource>, user: { uid: number; gid: number }, s: Scratch, cleanups: (() => Promise<void>)[]): Promise<RunMountsResult> {
  const out: Mount[] = [];
  const env = new Map<string, string>();
  const defaults = new Map<string, string>();
  let n = 0;
  let sshIndex = 0;
  for (const m of mounts) {
    const target = m.target;
    switch (m.type) {
      case 'tmpfs':
        out.push({ type: 'tmpfs', target: target!, ...(m.size !== undefined ? { size: m.size } : {}) });
        break;
      case 'cache':
        out.push(await cacheMount(ctx, rs, m, target!, cleanups));
        break;
      case 'secret': {
        // BuildKit (dispatchSecret): the id is id= or source=, else the target's base name; the default target
        // is /run/secrets/ID; with env= and no target the secret is a variable only, with both it is both.
        const sid = m.id ?? m.source ?? (target ? posix.basename(target) : '');
        const sec = (ctx.o.secrets ?? []).find((x) => x.id === sid);
        if (!sec) {
          if (m.required) throw new BuildError(`secret ${sid}: not found (the mount is required and no --secret id=${sid} was given)`, { hint: `pass --secret id=${sid},src=FILE` });
          break;
        }
        const data = await readSecret(sec);
        if (m.env !== undefined) env.set(m.env, data.toString('utf8'));
        if (m.env !== undefined && target === undefined) break;
        const file = join(s.dir, `secret-${randomUUID().slice(0, 8)}`);
        await writeFile(file, data, { mode: m.mode ?? 0o400 });
        await lchown(file, m.uid ?? user.uid, m.gid ?? user.gid);
        cleanups.push(() => rm(file, { force: true }));
        out.push({ type: 'bind', source: file, target: target ?? `/run/secrets/${posix.basename(sid)}`, readonly: true });
        break;
      }
      case 'bind': {
        const src = await sourceDir(ctx, m.from);
        if (!src) {
          // A stage or image: an overlay with a throwaway upper, so `rw` writes are discarded too.
          const view = await mountView(ctx, await sourceLayers(ctx, rs, m.from!), cleanups);
          const src = await scopedPath(view, m.source ?? '/', true);
          out.push({ type: 'bind', source: src, target: target!, readonly: m.readOnly });
          break;
        }
        const sel = selected.get(m) ?? await selectBindSource(src, m, ctx.signal);
        const dir = join(s.dir, `bind-${n++}`);
        await mkdir(dir);
        const view = await contextBindView(src.dir, sel, dir, cleanups, {
          writable: !m.readOnly, filtered: src.ignore.patterns.length > 0, commands: ctx.commands, signal: ctx.signal,
        });
        out.push({ type: 'bind', source: view.path, target: target!, readonly: m.readOnly });
        break;
      }
      case 'ssh': {
        const m2 = await sshMount(ctx, m, sshIndex++, cleanups);
        if (m2) {
          out.push(m2);
          if (!defaults.has('SSH_AUTH_SOCK')) defaults.set('SSH_AUTH_SOCK', m2.target);
        }
        break;
      }
    }
  }
  return { mounts: out, env, defaults };
}

/**
 * An ssh mount (BuildKit's dispatchSSH and llb's AddSSHSocket): a proxy socket to the `--ssh` agent of the
 * mount's id (default `default`) at `target` (default `/run/buildkit/ssh_agent.<n>`, n counting the step's ssh
 * mounts), owned uid:gid (default 0:0) with `mode` (default 0600). No agent for the id: an error when the mount
 * is `required`, else no mount (as BuildKit's optional ssh mount).
 */
async function sshMount(ctx: BuildCtx, m: RunMount, index: number, cleanups: (() => Promise<void>)[]): Promise<Mount | undefined> {
  const id = m.id ?? 'default';
  if (!ctx.ssh?.socket(id)) {
    if (m.required) {
      throw new BuildError(`RUN --mount=type=ssh,id=${id}: no SSH agent given for id ${id} (the mount is required)`, { hint: `pass --ssh ${id === 'default' ? 'default' : `${id}=SOCKET_OR_KEYFILE`}` });
    }
    return undefined;
  }
  const proxy = await ctx.ssh.proxy(id, { uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o600 });
  cleanups.push(proxy.close);
  return { type: 'bind', source: proxy.path, target: m.target ?? `/run/buildkit/ssh_agent.${index}`, readonly: false };
}

/**
 * Checks, before anything is read or run, that every secret given can be read: a missing or unreadable file,
 * or an unset variable, fails the build naming the flag (as buildx does for a file), never a step without it.
 */
export function validateSecrets(secrets: readonly SecretSource[]): void {
  for (const sec of secrets) {
    const flag = `--secret id=${sec.id},${sec.env !== undefined ? `env=${sec.env}` : `src=${sec.src ?? ''}`}`;
    if (sec.env !== undefined) {
      if (process.env[sec.env] === undefined) throw new TsbuildError('USAGE', `${flag}: environment variable ${sec.env} is not set`, { hint: `export ${sec.env}, or pass the secret as src=FILE` });
      continue;
    }
    try {
      accessSync(sec.src ?? '', fsConstants.R_OK);
      if (!statSync(sec.src ?? '').isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as NodeJS.ErrnoException).code === 'EISDIR' ? 'not a regular file' : 'cannot be read';
      throw new TsbuildError('USAGE', `${flag}: ${sec.src ?? ''}: ${why}`, { hint: 'pass the path of a readable file holding the secret', cause: e });
    }
  }
}

/** A secret's bytes; validateSecrets checked before the build that the file or variable is there. */
async function readSecret(sec: SecretSource): Promise<Buffer> {
  if (sec.env !== undefined) {
    const v = process.env[sec.env];
    if (v === undefined) throw new BuildError(`secret ${sec.id}: environment variable ${sec.env} is not set`, { hint: `set ${sec.env}, or pass --secret id=${sec.id},src=FILE` });
    return Buffer.from(v);
  }
  return readFile(sec.src ?? '');
}
