/**
 * An unprivileged user for the rootless tests: made with `useradd -m` and a subordinate uid and gid range of
 * 65536 ids (/etc/subuid, /etc/subgid), and removed again (the user, its home, its store, its range lines) by
 * `cleanup`. Commands run as the user through `runuser -u NAME --` with a small fixed environment. Needs root,
 * useradd and newuidmap (Debian's uidmap): `rootlessSkip()` says why a test file cannot run.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './paths.js';

const run = promisify(execFile);
const RANGE = 65536;
/** Where new ranges start when useradd gave none (above every existing range, at least this). */
const MIN_START = 200000;

export interface UserResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RootlessUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  /** The user's default store: ~/.local/share/tsbuild. */
  readonly store: string;
  /** The tsbuild launcher the user runs (this checkout's, or a readable copy of it). */
  readonly launcher: string;
  /** Runs `tsbuild ARGS…` as the user (cwd: its home unless given); `env` is added to PATH, HOME, USER, LOGNAME. */
  tsbuild(args: readonly string[], o?: { env?: Record<string, string>; cwd?: string; input?: string }): Promise<UserResult>;
  /** Runs any command as the user. */
  exec(cmd: string, args: readonly string[], o?: { env?: Record<string, string>; cwd?: string; input?: string }): Promise<UserResult>;
  /** Makes `path` (and what is below it) the user's. */
  give(path: string): Promise<void>;
  /** Removes the user, its home, its range lines and any copy of tsbuild made for it. */
  cleanup(): Promise<void>;
}

/** Returns why the rootless tests cannot run here, or false when they can. */
export function rootlessSkip(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (to create an unprivileged user)';
  for (const tool of ['useradd', 'userdel', 'runuser', 'newuidmap', 'newgidmap']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (apt-get install -y uidmap passwd util-linux)`;
  }
  return false;
}

/** The first free start for a range of RANGE ids in `file` (past every range there). */
function freeStart(file: string): number {
  let start = MIN_START;
  for (const l of existsSync(file) ? readFileSync(file, 'utf8').split('\n') : []) {
    const [, s, c] = l.split(':');
    if (s !== undefined && c !== undefined) start = Math.max(start, Number(s) + Number(c));
  }
  return start;
}

/** Removes the lines of `name` from a subordinate-id file (other users' lines are kept byte for byte). */
function dropLines(file: string, name: string): void {
  if (!existsSync(file)) return;
  const text = readFileSync(file, 'utf8');
  const kept = text.split('\n').filter((l) => !l.startsWith(`${name}:`));
  if (kept.length !== text.split('\n').length) writeFileSync(file, kept.join('\n'));
}

function hasLine(file: string, name: string): boolean {
  return existsSync(file) && readFileSync(file, 'utf8').split('\n').some((l) => l.startsWith(`${name}:`));
}

/** Whether `user` can read and run this checkout's launcher and bundle (a checkout under a closed dir cannot). */
function readableBy(name: string, root: string): boolean {
  const r = spawnSync('runuser', ['-u', name, '--', 'sh', '-c', 'test -x "$1/bin/tsbuild" && test -r "$1/dist/bin/tsbuild.mjs" && test -r "$1/runtime-exec/seccomp-default.json"', 'sh', root]);
  return r.status === 0;
}

/**
 * Creates a user `tsbrl<hex>` with subordinate ids (useradd's own, else a free range of 65536 added here) and
 * returns it. `o.ranges: false` makes one without subordinate ids (for the prerequisite tests); `o.counts` gives
 * it ranges of exactly these sizes (one line each, uids and gids alike) instead of useradd's.
 */
export async function makeRootlessUser(o: { ranges?: boolean; counts?: readonly number[] } = {}): Promise<RootlessUser> {
  const name = `tsbrl${randomBytes(4).toString('hex')}`;
  await run('useradd', ['-m', '-s', '/bin/sh', name]);
  let copy: string | undefined;
  let uidSeen: number | undefined;
  const cleanup = async (): Promise<void> => {
    await run('userdel', ['-r', '-f', name]).catch(() => undefined);
    // tsbuild's runtime dir for a user without XDG_RUNTIME_DIR (cli/rootless.ts): runc's state.
    if (uidSeen !== undefined) rmSync(join(tmpdir(), `tsbuild-xdg-${uidSeen}`), { recursive: true, force: true });
    for (const f of ['/etc/subuid', '/etc/subgid']) dropLines(f, name);
    if (copy) rmSync(copy, { recursive: true, force: true });
  };
  try {
    for (const f of ['/etc/subuid', '/etc/subgid']) {
      if (o.ranges === false || o.counts !== undefined) dropLines(f, name);
      for (const c of o.counts ?? []) writeFileSync(f, `${name}:${freeStart(f)}:${c}\n`, { flag: 'a' });
      if (o.ranges !== false && o.counts === undefined && !hasLine(f, name)) writeFileSync(f, `${name}:${freeStart(f)}:${RANGE}\n`, { flag: 'a' });
    }
    const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
    const uid = id('-u');
    uidSeen = uid;
    const gid = id('-g');
    const home = (await run('sh', ['-c', `getent passwd ${name} | cut -d: -f6`])).stdout.trim();
    let root = repoRoot();
    if (!readableBy(name, root)) {
      // A checkout the user cannot reach: a readable copy of what the launcher loads.
      copy = mkdtempSync(join(tmpdir(), 'tsbuild-rootless-bin-'));
      chmodSync(copy, 0o755);
      for (const p of ['bin', 'dist', 'node_modules', 'package.json', 'runtime-exec/seccomp-default.json']) cpSync(join(root, p), join(copy, p), { recursive: true });
      root = copy;
    }
    const launcher = join(root, 'bin', 'tsbuild');
    const execAs = (cmd: string, args: readonly string[], eo: { env?: Record<string, string>; cwd?: string; input?: string } = {}): Promise<UserResult> => {
      const env = { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, USER: name, LOGNAME: name, ...eo.env };
      const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
      return new Promise((resolve, reject) => {
        const child = spawn('runuser', ['-u', name, '--', 'env', '-i', ...envArgs, cmd, ...args], { cwd: eo.cwd ?? home, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
        child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
        child.stdin.end(eo.input ?? '');
        child.once('error', reject);
        child.once('close', (code) => resolve({ code, stdout, stderr }));
      });
    };
    return {
      name, uid, gid, home, launcher,
      store: join(home, '.local', 'share', 'tsbuild'),
      exec: execAs,
      tsbuild: (args, eo) => execAs(launcher, args, eo),
      give: async (path) => { await run('chown', ['-R', `${uid}:${gid}`, path]); },
      cleanup,
    };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/** Asserts-friendly: returns stdout, or throws with the command's output when it failed. */
export function ok(r: UserResult, what: string): string {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Returns the layer digests (base first) of `ref` (`name:tag` as tagged) in the OCI store `store`, read by skopeo. */
export async function layerDigests(store: string, ref: string): Promise<string[]> {
  const name = ref.includes('/') ? ref : `docker.io/library/${ref}`;
  const { stdout } = await run('skopeo', ['inspect', '--raw', `oci:${store}:${name}`]);
  return (JSON.parse(stdout) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
}

/** Runs `tsbuild --root ROOT ARGS…` as root (this process's user) with `env` added; rejects with its output. */
export async function tsbuildAsRoot(root: string, args: readonly string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run(join(repoRoot(), 'bin', 'tsbuild'), ['--root', root, ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`tsbuild ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}
