/**
 * Real git servers on loopback for the git context / ADD git tests: `git http-backend` behind a small node HTTP
 * server (smart HTTP, CGI), and `git daemon`. Repositories are made with the real `git` in a temp dir.
 * Every helper returns a `close()` that stops its process or server and removes what it made.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const GIT_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com',
  GIT_AUTHOR_DATE: '2020-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2020-01-01T00:00:00Z',
};

/** Runs git in `cwd` with a fixed identity and no user config; returns stdout trimmed. */
export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, env: GIT_ENV });
  return stdout.trim();
}

/** A bare repository `<root>/<name>.git` and a work tree to commit into it. */
export interface TestRepo {
  /** The directory holding the bare repositories (what the servers serve). */
  readonly root: string;
  readonly bare: string;
  readonly work: string;
  /** Writes `files` (path → content), commits them on the current branch, pushes every branch and tag; returns the commit. */
  commit(files: Record<string, string>, message?: string): Promise<string>;
  /** Runs git in the work tree. */
  git(...args: string[]): Promise<string>;
  /** Pushes every branch and tag to the bare repository. */
  push(): Promise<void>;
  cleanup(): Promise<void>;
}

/** Returns a new repository named `name` (branch `main`) in a fresh temp dir. */
export async function makeRepo(name = 'repo'): Promise<TestRepo> {
  const base = await mkdtemp(join(tmpdir(), 'tsbuild-git-'));
  const root = join(base, 'srv');
  const bare = join(root, `${name}.git`);
  const work = join(base, 'work');
  await mkdir(bare, { recursive: true });
  await mkdir(work);
  await git(bare, 'init', '-q', '--bare', '--initial-branch=main');
  await git(work, 'init', '-q', '--initial-branch=main');
  await git(work, 'remote', 'add', 'origin', bare);
  const push = async (): Promise<void> => {
    await git(work, 'push', '-q', '--all', '--force', 'origin');
    await git(work, 'push', '-q', '--tags', '--force', 'origin');
  };
  return {
    root, bare, work, push,
    git: (...args) => git(work, ...args),
    async commit(files, message = 'commit') {
      for (const [p, c] of Object.entries(files)) {
        await mkdir(dirname(join(work, p)), { recursive: true });
        await writeFile(join(work, p), c);
      }
      await git(work, 'add', '-A');
      await git(work, 'commit', '-q', '--allow-empty', '-m', message);
      await push();
      return git(work, 'rev-parse', 'HEAD');
    },
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}

/** Returns a loopback TCP port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A running server: its base URL and its closer. */
export interface GitServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves every repository below `root` over smart HTTP at `http://127.0.0.1:PORT/<name>.git`: each request runs
 * `git http-backend` as a CGI program. `fetches()` counts the fetches of objects (not ref listings).
 */
export async function startGitHttp(root: string): Promise<GitServer & { readonly fetches: () => number }> {
  let fetches = 0;
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    // Protocol v2 lists refs (ls-remote) with a POST too: only a `command=fetch` request fetches objects.
    let counted = false;
    if (req.method === 'POST' && u.pathname.endsWith('/git-upload-pack')) {
      req.on('data', (d: Buffer) => {
        if (!counted && d.includes('command=fetch')) { counted = true; fetches++; }
      });
    }
    const cgi = spawn('/usr/lib/git-core/git-http-backend', [], {
      env: {
        ...GIT_ENV, GIT_PROJECT_ROOT: root, GIT_HTTP_EXPORT_ALL: '1', PATH_INFO: decodeURIComponent(u.pathname),
        QUERY_STRING: u.search.replace(/^\?/, ''), REQUEST_METHOD: req.method ?? 'GET', CONTENT_TYPE: req.headers['content-type'] ?? '',
        REMOTE_ADDR: '127.0.0.1', GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headerDone = false;
    cgi.stdout.on('data', (d: Buffer) => {
      if (headerDone) { res.write(d); return; }
      head = Buffer.concat([head, d]);
      const i = head.indexOf('\r\n\r\n');
      if (i < 0) return;
      headerDone = true;
      let status = 200;
      for (const line of head.subarray(0, i).toString('latin1').split('\r\n')) {
        const j = line.indexOf(':');
        const k = line.slice(0, j).trim();
        const v = line.slice(j + 1).trim();
        if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
        else res.setHeader(k, v);
      }
      res.writeHead(status);
      res.write(head.subarray(i + 4));
    });
    cgi.on('close', () => res.end());
    cgi.on('error', () => { res.statusCode = 500; res.end(); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    fetches: () => fetches,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** Runs `git daemon` serving every repository below `root` at `git://127.0.0.1:PORT/<name>.git`. */
export async function startGitDaemon(root: string): Promise<GitServer> {
  const port = await freePort();
  const p: ChildProcess = spawn('git', ['daemon', '--reuseaddr', '--export-all', `--base-path=${root}`, '--listen=127.0.0.1', `--port=${port}`, root], {
    env: GIT_ENV, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  p.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await run('git', ['ls-remote', `git://127.0.0.1:${port}/none.git`], { env: GIT_ENV });
      break;
    } catch (e) {
      const msg = String((e as { stderr?: string }).stderr ?? '');
      if (!/Connection refused|unable to connect/i.test(msg)) break; // it answered (no such repo): up
      if (Date.now() > deadline || p.exitCode !== null) throw new Error(`git daemon did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url: `git://127.0.0.1:${port}`,
    close: async () => {
      if (p.exitCode === null) {
        const gone = new Promise((r) => p.once('exit', r));
        p.kill('SIGTERM');
        await gone;
      }
    },
  };
}
