/**
 * Fetches a git reference (git-ref.ts) into a checkout directory with the system `git`, as BuildKit's git source
 * does (source/git/source.go):
 *
 *  1. resolveCommit: `git ls-remote` turns the ref into a commit (a full commit hash is taken as is; no ref
 *     means the remote's default branch, `ls-remote --symref HEAD`); a branch wins over a tag of the same name;
 *     an annotated tag resolves to the commit it points at. `checksum` must be a prefix of that commit (or of
 *     the tag object), else `expected checksum to match X, got Y`.
 *  2. The checkout is cached under `cacheDir/<commit>[-git][-nosub]`, so a rebuild of the same commit fetches
 *     nothing (step 1 still asks the remote what the ref points at, as BuildKit does). The entry is leased by the
 *     caller first (`lease`), and its mtime is its last use: `prune --cache` removes entries (git-cache.ts).
 *  3. On a miss: `git init` in a fresh temp dir next to the cache entry, `git fetch --depth=1 --no-tags origin
 *     <ref or commit>` (a server that refuses a shallow fetch of a commit gets a full fetch), `git checkout`,
 *     submodules (`--depth=1`) unless `submodules=false`, `.git` removed unless `keepGitDir`; then renamed into
 *     place (a concurrent fetch of the same commit keeps the first).
 *
 * Every git runs in a child process with a clean environment (no system or user git config, no terminal
 * prompt, `ssh -F /dev/null -o StrictHostKeyChecking=no`, `SSH_AUTH_SOCK` only when an agent is given, the
 * proxy variables), `core.hooksPath=/dev/null` and `protocol.file.allow=user`, as BuildKit's GitCLI.
 * Left behind on failure: nothing (the temp dir is removed); the cache entries stay (they are the cache).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { TsbuildError } from '../../layer-store/core/index.js';
import { ContextError } from './errors.js';
import { redactRemote, showGitRef, type GitRef } from './git-ref.js';

export interface GitFetchOptions {
  /** Where checkouts are cached by commit (created when missing): `<root>/cache/git`. */
  readonly cacheDir: string;
  /** An SSH agent socket for `ssh://` and `user@host:` remotes (passed to git as SSH_AUTH_SOCK). */
  readonly sshAuthSock?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Progress lines (`fetching …`, `using cached …`). */
  readonly log?: ((line: string) => void) | undefined;
  /**
   * Called with the cache entry's name (`<commit>[-git][-nosub]`) before the entry is looked up or written: the
   * caller leases it (`cache/git/<name>`) so that a concurrent `prune --cache` keeps it (git-cache.ts).
   */
  readonly lease?: ((entry: string) => Promise<void>) | undefined;
}

/** A checked-out reference. */
export interface GitCheckout {
  /** The commit the ref resolved to (40 or 64 hex). */
  readonly commit: string;
  /** The checkout's root (with `.git` when kept); do not write to it. */
  readonly root: string;
  /** `root` with the reference's subdir applied: the directory to use. */
  readonly dir: string;
  /** Whether it came from the cache (nothing was fetched). */
  readonly cached: boolean;
}

const COMMIT = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
/** Prefix of a fetch in flight in the cache dir: `.fetch-<entry>-XXXXXX` (git-cache.ts reads it). */
export const FETCH_PREFIX = '.fetch-';
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'ALL_PROXY', 'http_proxy', 'https_proxy', 'no_proxy', 'all_proxy'];
const GIT_TIMEOUT_MS = 10 * 60_000;

/** Returns the environment every git child gets (see the header). */
function gitEnv(sshAuthSock: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: 'ssh -F /dev/null -o StrictHostKeyChecking=no -o BatchMode=yes',
    LC_ALL: 'C',
    GIT_CONFIG_NOSYSTEM: '1',
    HOME: '/dev/null',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };
  for (const v of PROXY_VARS) if (process.env[v] !== undefined) env[v] = process.env[v];
  if (sshAuthSock) env.SSH_AUTH_SOCK = sshAuthSock;
  return env;
}

/** A git command that failed: its arguments (remote redacted) and git's last stderr line. */
export class GitError extends TsbuildError {
  constructor(message: string, readonly stderr: string, o: { hint?: string; ref?: string; cause?: unknown } = {}) {
    super('CONTEXT', message, { ...(o.ref ? { location: { ref: o.ref } } : {}), hint: o.hint ?? 'check the URL, the ref and that the server is reachable', cause: o.cause });
    this.name = 'GitError';
  }
}

/** Runs git with `args` in `cwd`; returns stdout. Throws GitError with git's last meaningful stderr line. */
function git(args: readonly string[], cwd: string, o: Pick<GitFetchOptions, 'sshAuthSock' | 'signal'>, what: string, ref: string): Promise<string> {
  const full = ['-c', 'protocol.file.allow=user', '-c', 'core.hooksPath=/dev/null', '-c', 'advice.detachedHead=false', ...args];
  return new Promise((resolve, reject) => {
    execFile('git', full, { cwd, env: gitEnv(o.sshAuthSock), timeout: GIT_TIMEOUT_MS, maxBuffer: 64 << 20, ...(o.signal ? { signal: o.signal } : {}) }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new GitError(`cannot run git to ${what}: git is not installed`, '', { ref, hint: 'install git (apt-get install git)', cause: err }));
      }
      if (o.signal?.aborted) return reject(o.signal.reason instanceof Error ? o.signal.reason : err);
      reject(new GitError(`${what}: ${gitReason(stderr) ?? err.message.split('\n')[0] ?? ''}`, stderr, { ref, cause: err }));
    });
  });
}

/**
 * Returns git's reason in one line: its first `fatal:`/`error:` line, after the line before it when that one
 * says why (ssh's `Permission denied (publickey).` comes before git's `Could not read from remote repository.`).
 */
function gitReason(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim())
    .filter((l) => l && !/^(hint:|Cloning|warning:|Please make sure|and the repository exists|remote: (Counting|Compressing|Enumerating|Total))/.test(l));
  const i = lines.findIndex((l) => /^(fatal|error):/i.test(l));
  if (i < 0) return lines[lines.length - 1];
  const main = lines[i]!.replace(/^(fatal|error): /i, '');
  return i > 0 ? `${lines[i - 1]!.replace(/^(fatal|error): /i, '')} (${main.replace(/\.$/, '')})` : main;
}

/** The commit a reference points at, and the remote ref to fetch it by. */
interface Resolved {
  readonly commit: string;
  /** `refs/heads/…`, `refs/tags/…`, or the commit itself. */
  readonly fetchRef: string;
  /** For a branch or tag: its short name (the branch a kept .git has checked out). */
  readonly name?: string;
  readonly kind: 'branch' | 'tag' | 'commit' | 'ref';
}

/** Returns what `g.ref` (default: the remote's HEAD branch) points at on the remote (step 1 of the header). */
export async function resolveCommit(g: GitRef, o: Pick<GitFetchOptions, 'sshAuthSock' | 'signal'>, cwd: string): Promise<Resolved> {
  const shown = showGitRef(g);
  if (g.fetchByCommit) {
    if (g.checksum === undefined || !COMMIT.test(g.checksum)) {
      throw new ContextError(`${shown}: fetch-by-commit requires a full commit SHA checksum${g.checksum ? `, got ${JSON.stringify(g.checksum)}` : ''}`, { location: { ref: shown }, hint: 'add checksum=<40-hex commit> to the URL' });
    }
    return { commit: g.checksum, fetchRef: g.checksum, kind: 'commit' };
  }
  if (g.ref !== undefined && COMMIT.test(g.ref)) {
    if (g.checksum !== undefined && !g.ref.startsWith(g.checksum)) throw checksumError(g, g.ref);
    return { commit: g.ref, fetchRef: g.ref, kind: 'commit' };
  }
  let ref = g.ref;
  if (ref === undefined) {
    const out = await git(['ls-remote', '--symref', '--', g.remote, 'HEAD'], cwd, o, `cannot read the default branch of ${redactRemote(g.remote)}`, shown);
    const m = /^ref: (refs\/\S+)\tHEAD$/m.exec(out);
    if (!m) throw new GitError(`cannot find the default branch of ${redactRemote(g.remote)}`, out, { ref: shown, hint: 'name a branch, tag or commit after # in the URL' });
    ref = m[1]!;
  }
  const out = await git(['ls-remote', '--', g.remote, ref, `${ref}^{}`], cwd, o, `cannot list the refs of ${redactRemote(g.remote)}`, shown);
  const bare = ref.replace(/^refs\/(heads\/|tags\/)?/, '');
  const partial = `refs/${ref.replace(/^refs\//, '')}`;
  const head = `refs/heads/${ref.replace(/^refs\/heads\//, '')}`;
  const tag = `refs/tags/${ref.replace(/^refs\/tags\//, '')}`;
  const found = new Map<string, string>();
  for (const line of out.split('\n')) {
    const [sha, name] = line.split('\t');
    if (sha && name) found.set(name, sha);
  }
  let r: Resolved | undefined;
  let tagObject: string | undefined;
  if (found.has(partial)) r = { commit: found.get(partial)!, fetchRef: partial, kind: partial.startsWith('refs/heads/') ? 'branch' : partial.startsWith('refs/tags/') ? 'tag' : 'ref', name: bare };
  else if (found.has(head)) r = { commit: found.get(head)!, fetchRef: head, kind: 'branch', name: bare };
  else if (found.has(tag)) {
    tagObject = found.get(tag)!;
    r = { commit: found.get(`${tag}^{}`) ?? tagObject, fetchRef: tag, kind: 'tag', name: bare };
  }
  if (r?.kind === 'tag' && tagObject === undefined) {
    tagObject = found.get(r.fetchRef);
    r = { ...r, commit: found.get(`${r.fetchRef}^{}`) ?? r.commit };
  }
  if (!r) {
    throw new GitError(`${redactRemote(g.remote)}: repository does not contain ref ${ref} (no such branch, tag or ref)`, out, {
      ref: shown, hint: 'check the ref after # in the URL (a commit must be the full hash)',
    });
  }
  if (g.checksum !== undefined && !r.commit.startsWith(g.checksum) && !(tagObject ?? '').startsWith(g.checksum)) throw checksumError(g, r.commit);
  return r;
}

function checksumError(g: GitRef, commit: string): ContextError {
  return new ContextError(`${showGitRef(g)}: expected checksum to match ${g.checksum}, got ${commit}`, {
    location: { ref: showGitRef(g) }, hint: 'the ref now points at another commit: fix --checksum (or checksum=) or the ref',
  });
}

/**
 * Returns the checkout of `g` (fetched, or from the cache: see the header). Throws GitError (code CONTEXT) with
 * one line naming the reference for an unreachable server, an unknown ref, a missing subdir or a checksum that
 * does not match.
 */
export async function fetchGitRef(g: GitRef, o: GitFetchOptions): Promise<GitCheckout> {
  await mkdir(o.cacheDir, { recursive: true });
  const shown = showGitRef(g);
  const resolved = await resolveCommit(g, o, o.cacheDir);
  const key = `${resolved.commit}${g.keepGitDir ? '-git' : ''}${g.submodules === false ? '-nosub' : ''}`;
  const root = join(o.cacheDir, key);
  await o.lease?.(key);
  let cached = true;
  if (!(await isDir(root))) {
    cached = false;
    o.log?.(`fetching ${shown} (${resolved.commit})\n`);
    const tmp = await mkdtemp(join(o.cacheDir, `${FETCH_PREFIX}${key}-`));
    try {
      await checkout(g, resolved, tmp, o);
      await rename(tmp, root).catch(async (e: NodeJS.ErrnoException) => {
        if (!(await isDir(root))) throw e; // else a concurrent fetch of the same commit won: use it
      });
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  } else {
    o.log?.(`using cached checkout of ${shown} (${resolved.commit})\n`);
    const now = new Date();
    await utimes(root, now, now).catch(() => undefined); // its last use, for prune --filter until= and --keep-storage
  }
  const dir = g.subdir ? join(root, g.subdir) : root;
  if (g.subdir && !(await isDir(dir))) {
    throw new ContextError(`${shown}: no directory ${g.subdir} in commit ${resolved.commit}`, { location: { ref: shown }, hint: 'fix the subdirectory after : in the URL' });
  }
  return { commit: resolved.commit, root, dir, cached };
}

/** Fetches `r` into the empty directory `dir` and checks it out (step 3 of the header). */
async function checkout(g: GitRef, r: Resolved, dir: string, o: GitFetchOptions): Promise<void> {
  const shown = showGitRef(g);
  const run = (args: readonly string[], what: string): Promise<string> => git(args, dir, o, what, shown);
  await run(['init', '-q', '--template=', `--object-format=${r.commit.length === 64 ? 'sha256' : 'sha1'}`, '.'], 'cannot create a git repository');
  await run(['remote', 'add', 'origin', g.remote], 'cannot add the remote');
  const what = `cannot fetch ${redactRemote(g.remote)} ${r.fetchRef}`;
  try {
    await run(['fetch', '-q', '--depth=1', '--no-tags', 'origin', r.fetchRef], what);
  } catch (e) {
    if (r.kind !== 'commit') {
      // The dumb HTTP protocol cannot fetch shallow (as BuildKit, retry without --depth).
      if (!/shallow|depth/i.test((e as GitError).stderr ?? '')) throw e;
      await run(['fetch', '-q', '--no-tags', 'origin', r.fetchRef], what);
    } else {
      // A commit that is not a ref tip may be refused in a shallow fetch: fetch every branch and tag.
      await run(['fetch', '-q', '--tags', 'origin', '+refs/heads/*:refs/remotes/origin/*'], what);
    }
  }
  await run(['checkout', '-q', '--detach', r.kind === 'commit' ? r.commit : 'FETCH_HEAD'], `cannot check out ${r.commit}`);
  const head = (await run(['rev-parse', 'HEAD'], 'cannot read HEAD')).trim();
  if (head !== r.commit) {
    throw new ContextError(`${shown}: fetched commit ${head}, but the remote said ${r.commit}`, { location: { ref: shown }, hint: 'the ref moved while it was fetched: build again' });
  }
  if (g.submodules !== false && (await stat(join(dir, '.gitmodules')).catch(() => undefined))) {
    await run(['submodule', 'update', '--init', '--recursive', '--depth=1'], 'cannot check out the submodules').catch(async (e: GitError) => {
      if (!/shallow|depth/i.test(e.stderr ?? '')) throw e;
      await run(['submodule', 'update', '--init', '--recursive'], 'cannot check out the submodules'); // dumb HTTP
    });
  }
  if (g.keepGitDir) {
    // As BuildKit keeps it: HEAD detached at the commit, the ref fetched kept under its own name (a branch or a
    // tag), the remote's URL without credentials, no reflog, no FETCH_HEAD.
    if (r.kind !== 'commit') await run(['update-ref', r.fetchRef, 'FETCH_HEAD'], 'cannot keep the ref');
    await run(['remote', 'set-url', 'origin', redactRemote(g.remote)], 'cannot set the remote');
    await run(['reflog', 'expire', '--all', '--expire=now'], 'cannot expire the reflog');
    await rm(join(dir, '.git', 'FETCH_HEAD'), { force: true });
  } else {
    await rm(join(dir, '.git'), { recursive: true, force: true });
  }
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}
