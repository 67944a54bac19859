/**
 * The tools the benchmark runs side by side: tsbuild itself, BuildKit (inside a private dockerd), buildah and
 * skopeo. Each build tool is started with its own state under the benchmark's work directory, so nothing of
 * the machine's own Docker or containers-storage is read or changed, and stop() removes it again.
 *
 * Every command runs under GNU time (`/usr/bin/time -f %M`), which gives its peak RSS.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { BenchError } from './errors.js';

/** The outcome of one measured command. */
export interface Measured {
  readonly ok: boolean;
  readonly seconds: number;
  /** Peak resident set size of the command's largest process, MiB (from GNU time), when known. */
  readonly rssMb: number | undefined;
  /** The last lines of its output when it failed. */
  readonly error: string | undefined;
}

export interface ExecOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Kill the command after this many seconds (default 900). */
  readonly timeoutSeconds?: number;
}

const TIME = '/usr/bin/time';

/** Whether an executable exists (absolute path, or found on PATH). */
export function have(cmd: string): boolean {
  if (cmd.startsWith('/')) return existsSync(cmd);
  try {
    execFileSync('sh', ['-c', `command -v "$1"`, 'sh', cmd], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `cmd args` under GNU time and measures its wall time (from spawn to exit). Never throws for a
 * failing command: the result says ok=false and carries the tail of its output.
 */
export async function measure(cmd: string, args: readonly string[], o: ExecOptions = {}): Promise<Measured> {
  const rssFile = join(o.cwd ?? '/tmp', `.bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const useTime = existsSync(TIME);
  const argv = useTime ? ['-f', '%M', '-o', rssFile, cmd, ...args] : [...args];
  const t0 = process.hrtime.bigint();
  const r = await execCapture(useTime ? TIME : cmd, argv, o);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  let rssMb: number | undefined;
  if (useTime) {
    try {
      const lines = (await readFile(rssFile, 'utf8')).trim().split('\n');
      const kb = Number(lines[lines.length - 1]);
      if (Number.isFinite(kb) && kb > 0) rssMb = kb / 1024;
    } catch { /* no file: the command did not start */ }
    await rm(rssFile, { force: true });
  }
  const ok = r.code === 0;
  return { ok, seconds, rssMb, error: ok ? undefined : tail(r.output, 12) || `exit ${r.code}` };
}

function tail(s: string, n: number): string {
  return s.trim().split('\n').slice(-n).join('\n');
}

/**
 * `sync` before each timed push or pull: the previous one left up to a GiB of dirty pages (the registry's files,
 * the last pull's store), and on ext4 (data=ordered) the next command's first fsync waits for the journal commit
 * that writes them all out. Without it, whichever side runs first after a push paid for both sides' writeback
 * (T1 pull, two runs: 1.51 s against 0.85 s when pulled alone).
 */
export async function settleWriteback(): Promise<void> {
  await execCapture('sync', []);
}

/** Runs a command, capturing stdout+stderr (last 64 KiB). Resolves with its exit code (-1 when killed). */
export function execCapture(cmd: string, args: readonly string[], o: ExecOptions = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: o.cwd,
      env: { ...process.env, ...(o.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const add = (d: Buffer) => { out += d.toString('utf8'); if (out.length > 131072) out = out.slice(-65536); };
    child.stdout.on('data', add);
    child.stderr.on('data', add);
    const timer = setTimeout(() => { out += `\n[bench] killed after ${o.timeoutSeconds ?? 900} s`; child.kill('SIGKILL'); }, (o.timeoutSeconds ?? 900) * 1000);
    child.once('error', (e) => { clearTimeout(timer); resolve({ code: -1, output: `${out}\n${String(e)}` }); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, output: out }); });
  });
}

/** Like execCapture, but throws a BenchError when the command fails (for untimed setup steps). */
export async function mustRun(cmd: string, args: readonly string[], what: string, o: ExecOptions = {}): Promise<string> {
  const r = await execCapture(cmd, args, o);
  if (r.code !== 0) throw new BenchError('IO', `${what} failed: ${cmd} ${args.join(' ')}\n${tail(r.output, 20)}`, 'see the output above; rerun with --only to narrow it down');
  return r.output;
}

/** Unmounts everything mounted under `dir` (deepest first): overlay mounts that a killed daemon left behind. */
export async function unmountUnder(dir: string): Promise<void> {
  let info: string;
  try { info = await readFile('/proc/self/mountinfo', 'utf8'); } catch { return; }
  const points = info.split('\n').map((l) => l.split(' ')[4] ?? '').filter((p) => p === dir || p.startsWith(dir + '/'));
  points.sort((a, b) => b.length - a.length);
  for (const p of points) await execCapture('umount', ['-l', p]);
}

async function removeTree(dir: string): Promise<void> {
  await unmountUnder(dir);
  const r = await execCapture('rm', ['-rf', dir]); // GNU rm: much faster than fs.rm on 20,000-file trees
  if (r.code !== 0) await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** A build tool under test. `cold` builds without cache (base image present); `rebuild` builds with it. */
export interface BuildTool {
  readonly name: string;
  /** Called before each cold build, untimed (tsbuild: a fresh store with the base imported). */
  freshState(): Promise<void>;
  cold(context: string, tag: string): Promise<Measured>;
  rebuild(context: string, tag: string): Promise<Measured>;
  /** Drops a workload's images and cache (untimed, between workloads, to bound disk use). */
  forget(tag: string): Promise<void>;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------- tsbuild

/** Untimed runs of each timed tsbuild command before the first timed one (TsbuildTool.warmUp). */
const WARM_UP_RUNS = 6;

export class TsbuildTool implements BuildTool {
  readonly name = 'tsbuild';
  private generation = 0;
  private currentRoot: string | undefined;

  constructor(readonly cli: string, private readonly dir: string, private readonly baseTar: string, private readonly baseImage: string) {}

  /** The store directory of the current generation (an OCI layout: skopeo reads it as `oci:ROOT:REF`). */
  get root(): string {
    if (this.currentRoot === undefined) throw new BenchError('USAGE', 'tsbuild store used before freshState()', 'call freshState() first');
    return this.currentRoot;
  }

  /** Arguments for `CLI --root ROOT --progress quiet ...` (CLI: the `tsbuild` executable). */
  argv(root: string, ...rest: string[]): string[] {
    return ['--root', root, '--progress', 'quiet', ...rest];
  }

  async freshState(): Promise<void> {
    if (this.currentRoot !== undefined) await removeTree(this.currentRoot);
    const root = join(this.dir, `root-${++this.generation}`);
    await mkdir(root, { recursive: true });
    // A fixed creation time: every fresh store gets the same base image (config digest), as a pull would give, so
    // a cache exported from one store hits in another (rows-cache.ts).
    await mustRun(this.cli, this.argv(root, 'import', this.baseTar, this.baseImage), 'tsbuild import of the base image', { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    this.currentRoot = root;
  }

  /**
   * Untimed runs of the commands the rows time (build with a RUN, push, pull), WARM_UP_RUNS times each, so that
   * their code caches and startup snapshots (made at a command's fifth run: cli/snapshot.ts) exist before the
   * first timed run, as on any machine where tsbuild is used day to day; none of the timed runs pays for making one.
   */
  async warmUp(registryHost: string): Promise<void> {
    const dir = join(this.dir, 'warm-up');
    const root = join(dir, 'root');
    await mkdir(join(dir, 'ctx'), { recursive: true });
    await writeFile(join(dir, 'ctx', 'Dockerfile'), `FROM ${this.baseImage}\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\n`);
    await writeFile(join(dir, 'ctx', 'a.txt'), 'warm-up\n');
    await mustRun(this.cli, this.argv(root, 'import', this.baseTar, this.baseImage), 'tsbuild import of the base image (warm-up)');
    const ref = `${registryHost}/warm-up:latest`;
    for (let i = 0; i < WARM_UP_RUNS; i++) {
      await mustRun(this.cli, this.argv(root, 'build', '--no-cache', '-t', ref, join(dir, 'ctx')), 'tsbuild build (warm-up)');
      await mustRun(this.cli, this.argv(root, 'push', ref), 'tsbuild push (warm-up)');
      await mustRun(this.cli, this.argv(join(dir, `pull-${i}`), 'pull', ref), 'tsbuild pull (warm-up)');
    }
    await removeTree(dir);
  }

  cold(context: string, tag: string): Promise<Measured> {
    // A fresh store per run (freshState) is the cold state: `build --no-cache` is rejected by the CLI today.
    return measure(this.cli, this.argv(this.root, 'build', '-t', tag, context));
  }

  rebuild(context: string, tag: string): Promise<Measured> {
    return measure(this.cli, this.argv(this.root, 'build', '-t', tag, context));
  }

  async forget(): Promise<void> { /* the next workload starts from a fresh store anyway */ }

  async stop(): Promise<void> {
    await removeTree(this.dir);
  }
}

// --------------------------------------------------------------------------------------------- BuildKit

/** BuildKit as Debian's docker.io ships it: a private dockerd (own data root, socket, pid file). */
export class BuildkitTool implements BuildTool {
  readonly name = 'buildkit';
  static readonly DOCKERD = '/usr/sbin/dockerd';
  static readonly DOCKER = '/usr/bin/docker';
  private pid: number | undefined;

  private constructor(private readonly dir: string) {}

  static available(): boolean {
    return have(BuildkitTool.DOCKERD) && have(BuildkitTool.DOCKER);
  }

  private get env(): Record<string, string> {
    return { DOCKER_HOST: `unix://${join(this.dir, 'docker.sock')}`, DOCKER_BUILDKIT: '1', DOCKER_CONFIG: join(this.dir, 'client') };
  }

  /** Starts dockerd (no iptables, no bridge) and imports the base image into it. */
  static async start(dir: string, baseTar: string, baseImage: string): Promise<BuildkitTool> {
    await mkdir(join(dir, 'client'), { recursive: true });
    const t = new BuildkitTool(dir);
    const { openSync, closeSync } = await import('node:fs');
    const logFd = openSync(join(dir, 'dockerd.log'), 'a');
    const child = spawn(BuildkitTool.DOCKERD, [
      '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '-H', `unix://${join(dir, 'docker.sock')}`,
      '--pidfile', join(dir, 'dockerd.pid'), '--iptables=false', '--ip-masq=false', '--bridge=none',
    ], { stdio: ['ignore', logFd, logFd], detached: true });
    closeSync(logFd);
    child.unref();
    t.pid = child.pid;
    try {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = await execCapture(BuildkitTool.DOCKER, ['version', '--format', '{{.Server.Version}}'], { env: t.env, timeoutSeconds: 10 });
        if (r.code === 0) break;
        if (t.pid === undefined || !alive(t.pid) || Date.now() > deadline) {
          const log = await readFile(join(dir, 'dockerd.log'), 'utf8').catch(() => '');
          throw new BenchError('IO', `dockerd did not start:\n${tail(log, 15)}`, `see ${join(dir, 'dockerd.log')}`);
        }
        await sleep(300);
      }
      await mustRun(BuildkitTool.DOCKER, ['import', baseTar, baseImage], 'docker import of the base image', { env: t.env });
    } catch (e) {
      await t.stop();
      throw e;
    }
    return t;
  }

  async freshState(): Promise<void> { /* --no-cache makes the build cold; the base stays */ }

  cold(context: string, tag: string): Promise<Measured> {
    return measure(BuildkitTool.DOCKER, ['build', '--network', 'host', '--no-cache', '-q', '-t', tag, context], { env: this.env });
  }

  rebuild(context: string, tag: string): Promise<Measured> {
    return measure(BuildkitTool.DOCKER, ['build', '--network', 'host', '-q', '-t', tag, context], { env: this.env });
  }

  async forget(tag: string): Promise<void> {
    await execCapture(BuildkitTool.DOCKER, ['image', 'rm', '-f', tag], { env: this.env });
    await execCapture(BuildkitTool.DOCKER, ['builder', 'prune', '-af'], { env: this.env });
  }

  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid !== undefined && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (alive(pid) && Date.now() < deadline) await sleep(200);
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      // dockerd started its own containerd in its process group: make sure it went too
      try { process.kill(-pid, 'SIGKILL'); } catch { /* group already gone */ }
    }
    this.pid = undefined;
    await removeTree(this.dir);
  }
}

// ---------------------------------------------------------------------------------------------- buildah

/** `buildah bud --layers` with its own containers-storage (root and runroot), runc, host network. */
export class BuildahTool implements BuildTool {
  readonly name = 'buildah';
  private constructor(private readonly dir: string) {}

  static available(): boolean {
    return have('buildah') && have('/usr/sbin/runc');
  }

  private global(): string[] {
    return ['--root', join(this.dir, 'storage'), '--runroot', join(this.dir, 'run'), '--storage-driver', 'overlay'];
  }

  /** Creates the storage and imports the base image (from scratch + add of the root filesystem tar + commit). */
  static async start(dir: string, baseTar: string, baseImage: string): Promise<BuildahTool> {
    await mkdir(dir, { recursive: true });
    const t = new BuildahTool(dir);
    try {
      const ctr = (await mustRun('buildah', [...t.global(), 'from', 'scratch'], 'buildah from scratch')).trim().split('\n').pop() ?? '';
      await mustRun('buildah', [...t.global(), 'add', ctr, baseTar, '/'], 'buildah add of the base root filesystem');
      await mustRun('buildah', [...t.global(), 'commit', '-q', '--rm', ctr, `localhost/${baseImage}`], 'buildah commit of the base image');
    } catch (e) {
      await t.stop();
      throw e;
    }
    return t;
  }

  private bud(extra: string[], context: string, tag: string): Promise<Measured> {
    return measure('buildah', [...this.global(), 'bud', '--layers', ...extra, '--isolation', 'oci', '--runtime', '/usr/sbin/runc',
      '--network', 'host', '-q', '-t', tag, context]);
  }

  async freshState(): Promise<void> { /* --no-cache makes the build cold */ }
  cold(context: string, tag: string): Promise<Measured> { return this.bud(['--no-cache'], context, tag); }
  rebuild(context: string, tag: string): Promise<Measured> { return this.bud([], context, tag); }

  async forget(tag: string): Promise<void> {
    await execCapture('buildah', [...this.global(), 'rmi', '-f', tag]);
    await execCapture('buildah', [...this.global(), 'rmi', '--prune']);
  }

  async stop(): Promise<void> {
    if (existsSync(join(this.dir, 'storage'))) {
      await execCapture('buildah', [...this.global(), 'rm', '--all']);
      await execCapture('buildah', [...this.global(), 'umount', '--all']);
    }
    await removeTree(this.dir);
  }
}

// ----------------------------------------------------------------------------------------------- skopeo

/** Where containers/image keeps its blob-info cache (root and rootless). */
const SKOPEO_BLOB_INFO_CACHES = [
  '/var/lib/containers/cache/blob-info-cache-v1.boltdb',
  join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'containers', 'cache', 'blob-info-cache-v1.boltdb'),
];

export const Skopeo = {
  available(): boolean { return have('skopeo'); },
  /**
   * Copies an image from an OCI layout to a registry (plain HTTP). skopeo's blob-info cache remembers which
   * repositories already hold a blob and mounts from them instead of uploading: it is removed first, so every
   * run really moves the bytes, as tsbuild's push (to a fresh repository, no mount source) does.
   */
  async push(layout: string, ref: string, dest: string): Promise<Measured> {
    for (const f of SKOPEO_BLOB_INFO_CACHES) rmSync(f, { force: true });
    return measure('skopeo', ['--insecure-policy', 'copy', '-q', '--dest-tls-verify=false', `oci:${layout}:${ref}`, `docker://${dest}`]);
  },
  /** Copies an image from a registry into a new OCI layout directory. */
  pull(src: string, layout: string): Promise<Measured> {
    return measure('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', `docker://${src}`, `oci:${layout}:latest`]);
  },
};
