/**
 * `ADD <git reference> <dest>` (BuildKit's dispatchCopy for a git source): the repository at the resolved
 * commit is checked out into the git cache (`<root>/cache/git`, context/remote-git.ts) and its tree (with
 * `.git` under `--keep-git-dir` or `?keep-git-dir=true`) is copied into `<dest>` as a directory's contents.
 * `--checksum` (or `?checksum=`) is a hex commit prefix the resolved commit must match; both given and
 * different is an error, as are `--keep-git-dir` and `?keep-git-dir=` disagreeing. The step's cache key names
 * the resolved commit (and whether `.git` is kept), so a moved branch runs the step again and an unchanged one
 * is a hit. An `ssh://` or `user@host:` remote is fetched with the `--ssh default` agent.
 */
import { join } from 'node:path';
import { fetchGitRef, parseGitRef, redactRemote, showGitRef, type GitRef } from '../context/index.js';
import type { AddInstruction, CopyInstruction } from '../frontend/index.js';
import { BuildError } from '../plan/index.js';
import type { Fetched } from './add.js';
import type { BuildCtx } from './context.js';

/** Returns the git reference `src` names (BuildKit's rules, no bare `github.com/…`), else undefined. */
export function gitSource(src: string): GitRef | undefined {
  return parseGitRef(src);
}

/** Throws for a git source COPY cannot take (BuildKit: "source can't be a git ref for COPY"). */
export function checkGitSources(ins: CopyInstruction | AddInstruction): void {
  if (ins.kind !== 'copy') return;
  for (const src of ins.sources) {
    if (gitSource(src)) throw new BuildError(`COPY source ${src} is a git repository: COPY cannot take a git reference`, { hint: 'use ADD for a git repository' });
  }
}

/**
 * Returns the checkout of `src` as ADD copies it: `path` is the directory (subdir applied), `digest` names the
 * commit (`git:<commit>[+git]`). Throws a BuildError naming the reference for a bad ref, an unreachable
 * server or a checksum that does not match.
 */
export async function fetchAddGit(ctx: BuildCtx, ins: AddInstruction, src: string, log: (line: string) => void): Promise<Fetched> {
  let g = gitSource(src)!;
  if (g.keepGitDir !== undefined && ins.keepGitDir && !g.keepGitDir) {
    throw new BuildError(`ADD ${src}: inconsistent keep-git-dir configuration (--keep-git-dir and keep-git-dir=false)`, { hint: 'give keep-git-dir once' });
  }
  if (ins.checksum !== undefined && g.checksum !== undefined && ins.checksum !== g.checksum) {
    throw new BuildError(`ADD ${src}: checksum mismatch ${JSON.stringify(ins.checksum)} != ${JSON.stringify(g.checksum)}`, { hint: 'give the commit once, with --checksum or checksum=' });
  }
  const checksum = g.checksum ?? ins.checksum;
  if (checksum !== undefined && !/^[0-9a-fA-F]+$/.test(checksum)) {
    throw new BuildError(`ADD ${src}: invalid checksum ${checksum} for Git URL, expected hex commit hash`, { hint: 'pass --checksum=<commit>' });
  }
  g = { ...g, ...(ins.keepGitDir ? { keepGitDir: true } : {}), ...(checksum !== undefined ? { checksum: checksum.toLowerCase() } : {}) };
  try {
    const co = await fetchGitRef(g, {
      cacheDir: ctx.layout.gitCacheDir, sshAuthSock: ctx.ssh?.socket('default'), signal: ctx.signal, log,
      lease: (entry) => ctx.lease.add({ paths: [ctx.layout.gitCacheLeaseName(entry)] }),
    });
    return { path: co.dir, name: g.shortName, digest: `git:${co.commit}${g.keepGitDir ? '+git' : ''}${g.subdir ? `:${g.subdir}` : ''}` };
  } catch (e) {
    if (ctx.signal.aborted) throw e;
    const msg = (e as Error).message;
    const remote = redactRemote(g.remote);
    const what = msg.includes(showGitRef(g)) ? msg : msg.startsWith(`${remote}: `) ? `${showGitRef(g)}${msg.slice(remote.length)}` : `${showGitRef(g)}: ${msg}`;
    throw new BuildError(`ADD ${what}`, {
      hint: (e as { hint?: string }).hint ?? 'check the URL, the ref and that the server is reachable', cause: e,
    });
  }
}
