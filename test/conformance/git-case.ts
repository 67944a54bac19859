/**
 * Conformance runner extension for BuildKit's git and ssh tests (dockerfile_addgit_test.go,
 * dockerfile_git_http_test.go, dockerfile_ssh_test.go). A case's expect.json may hold:
 *  - `git`: `{ commands: [...], objectFormat?: "sha256" }`: shell commands run in a fresh work tree after
 *    `git init` (as the upstream test's runShell), then `git update-server-info`; the tree is served by a
 *    loopback static file server, as upstream's `httptest.NewServer(http.FileServer(...))` (git's dumb HTTP
 *    protocol). In the Dockerfile and `contextUrl`, `{{GIT}}` is that server's URL and `{{REV:<rev>}}` is
 *    `git rev-parse <rev>` (a commit hash, or a prefix with `{{REV:<rev>:<n>}}`). `submodule`: commands that
 *    make a second repository, served first, whose URL is `{{GITSUB}}` in `commands`.
 *  - `contextUrl`: the build context is this URL (a git or http URL; `{{HTTP}}` is the case's `http` server),
 *    built with runBuildPipeline.
 *  - `ssh`: ids to give `--ssh ID=KEYFILE` with a freshly generated RSA key each (upstream's sshprovider with a key).
 */
import { execFile } from 'node:child_process';
import { createReadStream, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_DATE: '2020-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2020-01-01T00:00:00Z', GIT_ALLOW_PROTOCOL: 'file:http:https',
};

export interface GitCaseSpec {
  readonly git?: { readonly commands: readonly string[]; readonly objectFormat?: 'sha1' | 'sha256'; readonly submodule?: readonly string[] };
  readonly contextUrl?: string;
  readonly ssh?: readonly string[];
}

export interface GitCase {
  /** Replaces `{{GIT}}` and `{{REV:…}}` in `s`. */
  subst(s: string): string;
  /** `--ssh` sources for the build. */
  readonly ssh: { id: string; paths: string[] }[];
  close(): Promise<void>;
}

/** Serves `dir` read-only over HTTP on loopback (GET and HEAD of files; 404 otherwise). */
async function serveDir(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const p = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const f = join(dir, p);
    let size: number;
    try {
      const st = statSync(f);
      if (!st.isFile() || p.includes('..')) throw new Error('not a file');
      size = st.size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': String(size) });
    if (req.method === 'HEAD') { res.end(); return; }
    createReadStream(f).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

/** A served repository (and its submodule's), shared by every case with the same `git` spec in one run. */
interface SharedRepo {
  readonly url: string;
  readonly dir: string;
}

/** Repositories by their spec (JSON), made once per run: dozens of cases read the same one. */
const shared = new Map<string, Promise<SharedRepo>>();
/** The servers of the shared repositories: stopped by closeGitCases(). */
const sharedClosers: (() => Promise<void>)[] = [];

/** Stops the servers of every shared repository (call once, after the last case). */
export async function closeGitCases(): Promise<void> {
  for (const c of sharedClosers.splice(0).reverse()) await c().catch(() => undefined);
  shared.clear();
}

/** Makes the repository `spec` describes below `work` (with one `git init`, one shell for all its commands) and serves it. */
async function makeSharedRepo(spec: NonNullable<GitCaseSpec['git']>, work: string): Promise<SharedRepo> {
  const sh = async (cmd: string, cwd: string): Promise<void> => { await run('sh', ['-ec', cmd], { cwd, env: GIT_ENV, maxBuffer: 16 << 20 }); };
  const makeRepo = async (dir: string, commands: readonly string[]): Promise<string> => {
    await mkdir(dir, { recursive: true });
    const init = `git init -q${spec.objectFormat === 'sha256' ? ' --object-format=sha256' : ''}\ngit config --local user.email test\ngit config --local user.name test`;
    await sh([init, ...commands, 'git update-server-info'].join('\n'), dir);
    const srv = await serveDir(dir);
    sharedClosers.push(srv.close);
    return srv.url;
  };
  const subUrl = spec.submodule ? await makeRepo(join(work, 'submodule'), spec.submodule) : '';
  const dir = join(work, 'repo');
  return { url: await makeRepo(dir, spec.commands.map((c) => c.replaceAll('{{GITSUB}}', subUrl))), dir };
}

/**
 * Prepares the case's repository (shared by cases with the same spec), server and keys below `work` (see the
 * header); `texts` are where `{{REV:…}}` may appear.
 */
export async function prepareGitCase(spec: GitCaseSpec, work: string, texts: readonly string[], httpUrl?: string): Promise<GitCase> {
  const closers: (() => Promise<void>)[] = [];
  const revs = new Map<string, string>();
  let url = '';
  let repoDir: string | undefined;
  try {
    if (spec.git) {
      const key = JSON.stringify(spec.git);
      let p = shared.get(key);
      if (!p) {
        p = makeSharedRepo(spec.git, join(work, 'repos', String(shared.size)));
        shared.set(key, p);
      }
      ({ url, dir: repoDir } = await p);
    }
    const ssh: { id: string; paths: string[] }[] = [];
    for (const id of spec.ssh ?? []) {
      const keyDir = join(work, 'ssh', String(Math.random()).slice(2));
      await mkdir(keyDir, { recursive: true });
      const key = join(keyDir, `${id}.key`);
      await run('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-m', 'PEM', '-N', '', '-f', key]);
      ssh.push({ id, paths: [key] });
    }
    for (const text of texts) {
      for (const m of text.matchAll(/\{\{REV:([^:}]+)(?::\d+)?\}\}/g)) {
        if (!repoDir) throw new Error(`{{REV:${m[1]!}}} without a git repository`);
        if (!revs.has(m[1]!)) revs.set(m[1]!, (await run('git', ['rev-parse', m[1]!], { cwd: repoDir, env: GIT_ENV })).stdout.trim());
      }
    }
    return {
      ssh,
      subst: (s) => s.replaceAll('{{GIT}}', url).replaceAll('{{HTTP}}', httpUrl ?? '').replace(/\{\{REV:([^:}]+)(?::(\d+))?\}\}/g, (_a, r: string, n?: string) => (n ? revs.get(r)!.slice(0, Number(n)) : revs.get(r)!)),
      close: async () => { for (const c of closers.reverse()) await c().catch(() => undefined); },
    };
  } catch (e) {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    throw e;
  }
}
