/**
 * Git references as BuildKit reads them (frontend/dockerfile/dfgitutil ParseGitRef over util/gitutil ParseURL):
 * a build context, a `--build-context` value or an `ADD` source that names a git repository, with its ref,
 * subdirectory and options. Pure: no I/O.
 *
 *  - Forms: `https://host/repo.git`, `http://…/repo.git` (http(s) only with a path ending in `.git`),
 *    `git://host/repo`, `ssh://[user@]host[:port]/path`, the scp form `user@host:path`, and (build contexts
 *    only, `bareGithub`) the deprecated `github.com/owner/repo` (https). Any other `scheme://` is not git.
 *  - Fragment `#ref[:subdir]`: ref is a branch, a tag or a commit; subdir is cleaned (`/a/../b/` → `b`).
 *  - Query (BuildKit ≥ 0.24): `ref=`, `tag=` (→ `refs/tags/…`), `branch=` (→ `refs/heads/…`), `subdir=`,
 *    `checksum=`/`commit=` (a hex commit prefix the resolved commit must have), `keep-git-dir[=bool]`,
 *    `submodules[=bool]`, `fetch-by-commit[=bool]`, `mtime=checkout`; a conflict with the fragment, a repeated
 *    key, a key without a value or an unknown key is an error, as BuildKit's. `mtime=commit` is refused by name.
 */
import { posix } from 'node:path';
import { ContextError } from './errors.js';

/** A parsed git reference. `remote` is what git is given (no fragment, no query). */
export interface GitRef {
  /** The repository URL as git takes it: `https://host/repo.git`, `git@host:repo.git`, `ssh://…`. */
  readonly remote: string;
  /** `https`, `http`, `git` or `ssh` (the scp form is `ssh`). */
  readonly scheme: 'https' | 'http' | 'git' | 'ssh';
  /** The repository's directory name (`repo` for `…/repo.git`). */
  readonly shortName: string;
  /** Branch, tag, full ref or commit; undefined: the remote's default branch. */
  readonly ref?: string;
  /** Directory inside the repository, cleaned, without leading `/`; undefined: the root. */
  readonly subdir?: string;
  /** A hex commit (prefix) the resolved commit must match. */
  readonly checksum?: string;
  /** Keep the `.git` directory (query `keep-git-dir`). */
  readonly keepGitDir?: boolean;
  /** Check out submodules (default true; query `submodules=false` skips them). */
  readonly submodules?: boolean;
  /** Trust `checksum` (a full commit) as the commit: fetch it without asking the remote what the ref points at. */
  readonly fetchByCommit?: boolean;
}

const SCP_FORM = /^([a-zA-Z0-9-_]+)@([a-zA-Z0-9-.]+):(.*?)(?:\?(.*?))?(?:#(.*))?$/;
const SCHEME = /^([a-zA-Z0-9]+):\/\//;
const GIT_SCHEMES = new Set(['http', 'https', 'ssh', 'git']);

/** True when `s` names a git repository by BuildKit's rules (an http(s) URL only when its path ends in `.git`). */
export function isGitRef(s: string, o: { bareGithub?: boolean } = {}): boolean {
  try {
    return parseGitRef(s, o) !== undefined;
  } catch {
    return true; // git, but with a bad query: parseGitRef says why when it is used
  }
}

/**
 * Returns the git reference `s` names, or undefined when `s` is not a git reference (a local path, an http(s)
 * URL not ending in `.git`, another scheme). Throws a BuildError for a git reference with a bad query.
 */
export function parseGitRef(s: string, o: { bareGithub?: boolean } = {}): GitRef | undefined {
  if (s.startsWith('./') || s.startsWith('../')) return undefined;
  if (!o.bareGithub && s.startsWith('github.com/')) return undefined;
  let remote: string;
  let scheme: GitRef['scheme'];
  let fragment = '';
  let query: [string, string][] = [];
  let path: string;
  const m = SCHEME.exec(s);
  if (m || s.startsWith('github.com/')) {
    const proto = m ? m[1]!.toLowerCase() : 'https';
    if (!GIT_SCHEMES.has(proto)) return undefined;
    let u: URL;
    try {
      u = new URL(m ? s : `https://${s}`);
    } catch {
      return undefined;
    }
    scheme = proto as GitRef['scheme'];
    path = decodeURIComponent(u.pathname);
    if ((scheme === 'http' || scheme === 'https') && !path.endsWith('.git') && m) return undefined;
    fragment = decodeURIComponent(u.hash.replace(/^#/, ''));
    query = [...u.searchParams];
    u.hash = '';
    u.search = '';
    remote = u.toString();
  } else {
    const scp = SCP_FORM.exec(s);
    if (!scp) return undefined;
    scheme = 'ssh';
    path = scp[3]!;
    remote = `${scp[1]}@${scp[2]}:${path}`;
    fragment = scp[5] ?? '';
    query = scp[4] ? [...new URLSearchParams(scp[4])] : [];
  }
  const shortName = (remote.split('/').pop() ?? '').replace(/\.git$/, '');
  let ref: string | undefined;
  let subdir: string | undefined;
  if (fragment !== '') {
    const i = fragment.indexOf(':');
    ref = (i < 0 ? fragment : fragment.slice(0, i)) || undefined;
    subdir = cleanSubdir(i < 0 ? '' : fragment.slice(i + 1));
  }
  const r: { -readonly [K in keyof GitRef]: GitRef[K] } = { remote, scheme, shortName };
  if (ref !== undefined) r.ref = ref;
  if (subdir !== undefined) r.subdir = subdir;
  loadQuery(r, query, s);
  if (r.subdir === '') delete r.subdir;
  return r;
}

/** `path.Join("/", p)` without the leading slash: `a/../b/` → `b`, `` → ``. */
function cleanSubdir(p: string): string {
  return posix.join('/', p).replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Applies BuildKit's query keys (dfgitutil loadQuery) to `r`; errors name the reference. */
function loadQuery(r: { -readonly [K in keyof GitRef]: GitRef[K] }, query: readonly [string, string][], s: string): void {
  if (query.length === 0) return;
  const bad = (what: string): ContextError => new ContextError(`git reference ${s}: ${what}`, {
    location: { ref: s }, hint: 'use ?ref=, tag=, branch=, subdir=, checksum=, keep-git-dir= or submodules= once each, or the #ref:subdir fragment',
  });
  const seen = new Set<string>();
  let tag: string | undefined;
  let branch: string | undefined;
  const flag = (k: string, v: string): boolean => {
    if (v === '') return true;
    if (/^(1|t|true|TRUE|True)$/.test(v)) return true;
    if (/^(0|f|false|FALSE|False)$/.test(v)) return false;
    throw bad(`invalid ${k} value ${JSON.stringify(v)}`);
  };
  for (const [k, v] of query) {
    if (seen.has(k)) throw bad(`query ${JSON.stringify(k)} has multiple values`);
    seen.add(k);
    if (v === '' && !['submodules', 'keep-git-dir', 'fetch-by-commit'].includes(k)) throw bad(`query ${JSON.stringify(k)} has no value`);
    switch (k) {
      case 'ref':
        if (r.ref !== undefined && r.ref !== v) throw bad(`ref conflicts: ${JSON.stringify(r.ref)} vs ${JSON.stringify(v)}`);
        r.ref = v;
        break;
      case 'tag': tag = v; break;
      case 'branch': branch = v; break;
      case 'subdir': {
        if (r.subdir !== undefined && r.subdir !== '' && r.subdir !== v) throw bad(`subdir conflicts: ${JSON.stringify(r.subdir)} vs ${JSON.stringify(v)}`);
        r.subdir = cleanSubdir(v);
        break;
      }
      case 'checksum': case 'commit': r.checksum = v; break;
      case 'keep-git-dir': r.keepGitDir = flag(k, v); break;
      case 'submodules': r.submodules = flag(k, v); break;
      case 'mtime':
        if (v !== 'checkout' && v !== 'commit') throw bad(`invalid mtime value: ${JSON.stringify(v)} (must be "checkout" or "commit")`);
        if (v === 'commit') throw new ContextError(`git reference ${s}: mtime=commit is not supported by tsbuild`, { location: { ref: s }, hint: 'remove mtime=commit (files get the checkout time, mtime=checkout)' });
        break;
      case 'fetch-by-commit':
        if (flag(k, v)) r.fetchByCommit = true;
        break;
      default: throw bad(`unexpected query ${JSON.stringify(k)}`);
    }
  }
  if (tag !== undefined) {
    const full = tag.startsWith('refs/tags/') ? tag : `refs/tags/${tag}`;
    if (r.ref !== undefined && r.ref !== full) throw bad(`ref conflicts: ${JSON.stringify(r.ref)} vs ${JSON.stringify(full)}`);
    r.ref = full;
  }
  if (branch !== undefined) {
    if (tag !== undefined) throw bad('branch conflicts with tag');
    const full = branch.startsWith('refs/heads/') ? branch : `refs/heads/${branch}`;
    if (r.ref !== undefined && r.ref !== full) throw bad(`ref conflicts: ${JSON.stringify(r.ref)} vs ${JSON.stringify(full)}`);
    r.ref = full;
  }
}

/** Returns the reference as messages show it: the remote (credentials removed) with `#ref[:subdir]`. */
export function showGitRef(g: GitRef): string {
  let u = redactRemote(g.remote);
  if (g.ref !== undefined || g.subdir !== undefined) u += `#${g.ref ?? ''}${g.subdir ? `:${g.subdir}` : ''}`;
  return u;
}

/** Returns `remote` without a password or token in its user info. */
export function redactRemote(remote: string): string {
  return remote.replace(/^([a-z0-9]+:\/\/)([^/@]*)@/i, (_all, p: string, user: string) => `${p}${user.includes(':') ? `${user.split(':')[0]}:xxxxx` : user}@`);
}
