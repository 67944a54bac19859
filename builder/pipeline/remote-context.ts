/**
 * The build's remote inputs, opened once for the whole pipeline (every platform of a multi-platform build uses
 * the same ones):
 *  - `--ssh` agents (ssh-agent.ts), also given to git for `ssh://` and `user@host:` contexts;
 *  - a remote context (BuildKit's dockerui initContext): a git reference (`https://host/repo.git#ref:subdir`,
 *    `git@host:repo.git#ref`, `ssh://…`, the `?ref=&subdir=` query form) is checked out into the git cache
 *    under `<root>/cache/git/<commit>` (a rebuild of the same commit fetches nothing); any other http(s) URL
 *    is downloaded, and extracted when it is an archive, else used as the Dockerfile of an empty context.
 * The Dockerfile (`dockerfile`, default `Dockerfile`) is then a path inside the remote context, as buildx takes
 * `-f` with a URL context; an absolute path is used as is. `keepGitDir`, or the build argument
 * `BUILDKIT_CONTEXT_KEEP_GIT_DIR` set to a true value (as BuildKit reads it), keeps the context's `.git`. Left behind: the git cache entry; a download's scratch dir is removed.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { downloadContext, fetchGitRef, isGitRef, isHttpContext, parseGitRef } from '../context/index.js';
import { SshAgents } from '../execute/ssh-agent.js';
import type { BuildOptions } from '../execute/options.js';

/** Options this step reads. */
type RemoteInputs = Pick<BuildOptions, 'context' | 'dockerfile' | 'dockerfileLabel' | 'ssh' | 'sshAgents' | 'store' | 'events' | 'signal' | 'buildArgs' | 'observe' | 'lease'> & {
  /** Keep the `.git` directory of a git context (default false). */
  readonly keepGitDir?: boolean | undefined;
};

/** Whether the git context keeps its `.git`: `keepGitDir`, else BUILDKIT_CONTEXT_KEEP_GIT_DIR parsed as Go's ParseBool. */
function keepGitDir(o: RemoteInputs): boolean {
  if (o.keepGitDir !== undefined) return o.keepGitDir;
  return /^(1|t|true|TRUE|True)$/.test(o.buildArgs?.BUILDKIT_CONTEXT_KEEP_GIT_DIR ?? '');
}

/** Returns `<root>/cache/git`, where git checkouts are cached by commit. */
export function gitCacheDir(o: Pick<BuildOptions, 'store'>): string {
  return o.store.layout.gitCacheDir;
}

/** True when `context` is a git reference or an http(s) URL (not a directory). */
export function isRemoteContext(context: string): boolean {
  return isGitRef(context, { bareGithub: true }) || isHttpContext(context);
}

/**
 * Calls `fn` with `o`'s context replaced by a local directory (and `dockerfile` by the file inside it) and with
 * the `--ssh` agents open; closes the agents and removes a download afterwards, whatever `fn` did.
 */
export async function withRemoteInputs<O extends RemoteInputs, T>(o: O, fn: (o: O) => Promise<T>): Promise<T> {
  const agents = !o.sshAgents && o.ssh?.length ? await SshAgents.open(o.ssh, o.signal ? { signal: o.signal } : {}) : o.sshAgents;
  let scratch: string | undefined;
  try {
    let local: Pick<BuildOptions, 'context' | 'dockerfile' | 'dockerfileLabel'> = { context: o.context, dockerfile: o.dockerfile };
    // Messages name the Dockerfile by its path in the remote context, as BuildKit does, not by the cache path.
    const label = o.dockerfile !== undefined && isAbsolute(o.dockerfile) ? o.dockerfile : o.dockerfile ?? 'Dockerfile';
    const g = parseGitRef(o.context, { bareGithub: true });
    const inContext = (dir: string): string => (o.dockerfile !== undefined && isAbsolute(o.dockerfile) ? o.dockerfile : join(dir, o.dockerfile ?? 'Dockerfile'));
    if (g) {
      const co = await fetchGitRef(keepGitDir(o) ? { ...g, keepGitDir: true } : g, {
        cacheDir: gitCacheDir(o), sshAuthSock: agents?.socket('default'), signal: o.signal,
        log: (line) => o.events?.({ type: 'info', message: line.trimEnd() }),
        // The pipeline's lease: a prune --cache meanwhile keeps the checkout the build reads.
        ...(o.lease ? { lease: (entry: string) => o.lease!.add({ paths: [o.store.layout.gitCacheLeaseName(entry)] }) } : {}),
      });
      local = { context: co.dir, dockerfile: inContext(co.dir), dockerfileLabel: label };
      o.observe?.remoteContext?.(o.context, co.commit);
    } else if (isHttpContext(o.context)) {
      scratch = o.store.layout.scratchPath('context', randomUUID());
      await mkdir(scratch, { recursive: true });
      o.events?.({ type: 'info', message: `downloading build context ${o.context}` });
      const d = await downloadContext(o.context, scratch, o.signal);
      local = { context: d.dir, dockerfile: d.dockerfile ?? inContext(d.dir), dockerfileLabel: d.dockerfile ? 'Dockerfile' : label };
      o.observe?.remoteContext?.(o.context, undefined);
    }
    return await fn({ ...o, ...local, ...(agents ? { sshAgents: agents } : {}) });
  } finally {
    if (agents && agents !== o.sshAgents) await agents.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
