/**
 * Chroot isolation (`--isolation chroot`, as kaniko builds): for locked-down containers where no namespace can be
 * made and nothing can be mounted. The step runs directly in a plain directory holding the whole root filesystem
 * (layer-store materialiseRootfs made it), with chroot(2) and nothing else: util-linux `nsenter --root=DIR
 * --wd=DIR` with no namespace named does only chroot + chdir (+ setgroups/setgid/setuid for another user), no
 * unshare(2) or setns(2), which the default seccomp profile of Docker refuses without CAP_SYS_ADMIN.
 *
 * Not the same thing as chroot.ts (`ChrootRuntime`, the *unshare fallback*: namespaces + an overlay mount,
 * used when runc is missing). What this one does not isolate: README "--isolation chroot".
 *
 * Around the run, and undone before it returns (so the caller's tree walk sees only the step's changes):
 * generated /etc/hosts, /etc/resolv.conf and /etc/hostname in place of the image's (kept aside in the work dir,
 * on the same filesystem, and renamed back); /dev/null, zero, full, random, urandom and tty made with mknod where
 * missing; each read-only file bind mount (a secret, a RUN heredoc script) copied in and removed after; the
 * directories that held them get their mtime back when their entries are the same again. A step that wrote to a
 * generated /etc file fails (under runc they are read-only mounts).
 *
 * The process runs under a small `/bin/sh` supervisor in a session of its own: the step's processes share its
 * process group, which is SIGKILLed when the step ends, when the run is aborted, and (a watcher reading a pipe
 * whose only write end is in tsbuild) when tsbuild dies, even by SIGKILL.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, lchownSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmdirSync, statSync, unlinkSync, utimesSync, writeFileSync, type BigIntStats } from 'node:fs';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AbortedError, type Logger, noopLogger } from '../layer-store/core/index.js';
import { checkBinfmt } from './binfmt.js';
import { ContainerStartError } from './errors.js';
import { DEFAULT_HOSTNAME, hostsText, resolvText } from './etc-files.js';
import { execCapture, signalNumber } from './exec.js';
import { validateSpec } from './spec.js';
import type { RunIO, RunSpec, Runtime } from './types.js';

export interface ChrootIsolationOptions {
  /** util-linux `nsenter` binary. */
  readonly nsenter: string;
  readonly logger?: Logger;
}

/** The generated /etc files, relative to the root: their originals are put back by rename (only their ctime moves). */
export const CHROOT_ETC_FILES = ['etc/hosts', 'etc/resolv.conf', 'etc/hostname'] as const;

/** The device nodes made in /dev where missing: name, major, minor. */
const DEV_NODES: readonly (readonly [string, number, number])[] = [['null', 1, 3], ['zero', 1, 5], ['full', 1, 7], ['random', 1, 8], ['urandom', 1, 9], ['tty', 5, 0]];

/** `$0` of the supervisor shell: how `ps` (and the tests) tell it apart. */
export const CHROOT_SUPERVISOR_NAME = 'tsbuild-chroot-supervisor';

// The step runs in the background of a shell that leads its own session; a watcher blocks reading fd 3 (a pipe
// whose only write end is tsbuild's) and kills the whole process group when it reads end-of-file.
const SCRIPT = `exec 3<&0 </dev/null
"$@" 3<&- &
r=$!
{ read -r _ <&3; kill -KILL 0; } >/dev/null 2>&1 &
w=$!
exec 3<&-
wait "$r"
c=$?
kill "$w" 2>/dev/null
exit "$c"`;

function missing(p: string): boolean {
  return lstatSync(p, { throwIfNoEntry: false }) === undefined;
}

/** Resolves `path` (absolute, in the container) inside `root` as chroot would, symlinks included; never leaves root. */
export function resolveInRoot(root: string, path: string, depth = 0): string {
  if (depth > 40) throw new ContainerStartError(`too many levels of symbolic links resolving ${path}`);
  const out: string[] = [];
  const parts = posix.normalize(path).split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p === '..') { out.pop(); continue; }
    const cur = join(root, ...out, p);
    const st = lstatSync(cur, { throwIfNoEntry: false });
    if (st?.isSymbolicLink()) {
      const link = readlinkSync(cur);
      const t = posix.join(...(link.startsWith('/') ? [] : ['/', ...out]), link, ...parts.slice(i + 1));
      return resolveInRoot(root, t.startsWith('/') ? t : `/${t}`, depth + 1);
    }
    out.push(p);
  }
  return '/' + out.join('/');
}

/** One thing set up in the root for the run, and how to take it away again. */
interface Managed {
  /** Absolute host path. */
  readonly path: string;
  /** Where the original was put aside (renamed back after), if there was one. */
  readonly saved?: string;
  /** The bytes written, when the step must not change them (generated /etc files). */
  readonly content?: Buffer;
}

/** A directory the setup adds entries to: its names and times before, to put the mtime back when they match again. */
interface TouchedDir {
  readonly names: string;
  /** Times in ns; utimes puts them back to the microsecond (libuv), within the tree walk's tolerance for directories. */
  readonly st: BigIntStats;
  /** Made by the setup (removed again when empty). */
  readonly stub: boolean;
}

/**
 * Runs a step by chroot(2) alone in `spec.rootfs.upper`, a plain directory holding the whole root filesystem
 * (`rootfs.lower` must be empty: see the header); the step writes to it in place. Refuses, with one line naming
 * it, what it cannot do: `--network none`, a mount other than a read-only file, cgroup limits, ulimits,
 * --shm-size, --cgroup-parent, stdin, --name, --read-only.
 */
export class ChrootIsolationRuntime implements Runtime {
  readonly name = 'chroot-isolation' as const;
  readonly #o: ChrootIsolationOptions;
  readonly #log: Logger;

  constructor(o: ChrootIsolationOptions) {
    this.#o = o;
    this.#log = o.logger ?? noopLogger;
  }

  async run(spec: RunSpec, io: RunIO, signal: AbortSignal): Promise<{ exitCode: number }> {
    if (signal.aborted) throw new AbortedError({ cause: signal.reason });
    validateSpec(spec);
    refuseUnsupported(spec, io);
    if (spec.platform) await checkBinfmt(spec.platform);
    const root = spec.rootfs.upper;
    const aside = join(spec.rootfs.work, `chroot-aside-${process.pid}-${Date.now()}`);
    mkdirSync(aside, { recursive: true });
    const managed: Managed[] = [];
    const touched = new Map<string, TouchedDir>();
    let result: { exitCode: number } | undefined;
    let failure: unknown;
    try {
      this.#setUp(spec, root, aside, managed, touched);
      result = await this.#spawn(spec, root, io, signal);
    } catch (e) {
      failure = e;
    }
    let changedEtc: string | undefined;
    try {
      changedEtc = tearDown(managed, touched);
      rmdirSync(aside);
    } catch (e) {
      failure ??= new ContainerStartError(`chroot isolation: cleaning up after the step failed: ${(e as Error).message}`, { cause: e });
    }
    if (failure !== undefined) throw failure;
    if (changedEtc) {
      throw new ContainerStartError(`chroot isolation: the step changed /${changedEtc}, which is generated for each step and never kept in the layer`, {
        hint: 'write it in the image at run time instead (under runc it is a read-only mount)',
      });
    }
    return result!;
  }

  /** Puts the generated /etc files, /dev nodes and copied-in files in place (each recorded in `managed`). */
  #setUp(spec: RunSpec, root: string, aside: string, managed: Managed[], touched: Map<string, TouchedDir>): void {
    const touch = (dir: string): void => {
      if (touched.has(dir)) return;
      if (missing(dir)) {
        touch(join(dir, '..'));
        mkdirSync(dir, { mode: 0o755 });
        touched.set(dir, { names: '', st: statSync(dir, { bigint: true }), stub: true });
      } else {
        touched.set(dir, { names: readdirSync(dir).sort().join('\0'), st: statSync(dir, { bigint: true }), stub: false });
      }
    };
    const place = (rel: string, write: (p: string) => void, content?: Buffer): void => {
      const p = join(root, rel);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (st && !st.isFile()) {
        this.#log.warn(`chroot isolation: /${rel} is not a regular file in the image; left as it is`);
        return;
      }
      touch(join(p, '..'));
      let saved: string | undefined;
      if (st) {
        saved = join(aside, String(managed.length));
        renameSync(p, saved);
      }
      managed.push({ path: p, ...(saved ? { saved } : {}), ...(content ? { content } : {}) });
      write(p);
    };
    // The mountpoints runc makes where the image has none, kept in the layer as runc leaves them.
    for (const d of ['proc', 'dev', 'sys']) if (missing(join(root, d))) mkdirSync(join(root, d), { mode: 0o755 });
    const hostname = spec.hostname ?? DEFAULT_HOSTNAME;
    let hostResolv = '';
    try {
      hostResolv = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      hostResolv = '';
    }
    const etc: Record<(typeof CHROOT_ETC_FILES)[number], string> = {
      'etc/hosts': hostsText(hostname, spec.extraHosts),
      'etc/resolv.conf': resolvText(hostResolv, false),
      'etc/hostname': hostname + '\n',
    };
    for (const rel of CHROOT_ETC_FILES) {
      const bytes = Buffer.from(etc[rel]);
      place(rel, (p) => writeFileSync(p, bytes, { mode: 0o644 }), bytes);
    }
    for (const m of spec.mounts) {
      if (m.type !== 'bind') continue;
      const st = statSync(m.source);
      const rel = resolveInRoot(root, m.target).slice(1);
      place(rel, (p) => {
        copyFileSync(m.source, p);
        lchownSync(p, st.uid, st.gid);
        chmodSync(p, st.mode & 0o7777);
      });
    }
    for (const [name, major, minor] of DEV_NODES) {
      const p = join(root, 'dev', name);
      if (!missing(p)) continue;
      touch(join(root, 'dev'));
      managed.push({ path: p });
      const r = spawnSyncMknod(p, major, minor);
      if (r) throw new ContainerStartError(`chroot isolation: cannot make /dev/${name}: ${r}`, { hint: 'chroot isolation needs root with CAP_MKNOD (Docker gives it by default)' });
    }
  }

  async #spawn(spec: RunSpec, root: string, io: RunIO, signal: AbortSignal): Promise<{ exitCode: number }> {
    // The working directory is made as runc makes it (before the run, so it lands in the layer), resolved inside the root.
    const cwd = join(root, resolveInRoot(root, spec.cwd));
    mkdirSync(cwd, { recursive: true, mode: 0o755 });
    const args = [`--root=${root}`, `--wd=${cwd}`];
    const self = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    if (spec.user.uid !== self.uid || spec.user.gid !== self.gid) args.push('-S', String(spec.user.uid), '-G', String(spec.user.gid));
    if (spec.user.uid !== 0 && spec.user.additionalGids?.some((g) => g !== spec.user.gid)) {
      this.#log.warn('chroot isolation: supplementary groups are not applied', { gids: spec.user.additionalGids });
    }
    const env: Record<string, string> = {};
    for (const e of spec.env) {
      const i = e.indexOf('=');
      env[i < 0 ? e : e.slice(0, i)] = i < 0 ? '' : e.slice(i + 1);
    }
    const child = spawn('/bin/sh', ['-c', SCRIPT, CHROOT_SUPERVISOR_NAME, this.#o.nsenter, ...args, '--', ...spec.args], {
      stdio: ['pipe', 'pipe', 'pipe'], env, detached: true,
    });
    const killGroup = (): void => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone
      }
    };
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      killGroup();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const exit = new Promise<number>((resolve, reject) => {
        child.on('error', (e) => reject(new ContainerStartError(`chroot isolation: cannot start /bin/sh: ${e.message}`, { cause: e })));
        child.on('exit', (code, sig) => {
          killGroup(); // what the step left running in its process group
          resolve(code ?? 128 + (sig ? signalNumber(sig) : 0));
        });
      });
      const [exitCode] = await Promise.all([
        exit,
        pipeline(child.stdout, io.stdout, { end: false }),
        pipeline(child.stderr, io.stderr, { end: false }),
      ]);
      if (aborted) throw new AbortedError({ cause: signal.reason });
      return { exitCode };
    } finally {
      signal.removeEventListener('abort', onAbort);
      child.stdin.end(); // the supervisor's tie: closed only once the step is over
    }
  }
}

/** Makes a character device with coreutils mknod (synchronously: six nodes at most); returns the error text, if any. */
function spawnSyncMknod(p: string, major: number, minor: number): string | undefined {
  const r = spawnSync('mknod', ['-m', '666', '--', p, 'c', String(major), String(minor)], { encoding: 'utf8' });
  if (r.error) return r.error.message;
  return r.status === 0 ? undefined : (r.stderr || `exit ${r.status}`).trim();
}

/** Refuses what chroot isolation cannot honour, one line naming it. */
function refuseUnsupported(spec: RunSpec, io: RunIO): void {
  const refuse = (what: string, hint: string): never => {
    throw new ContainerStartError(`chroot isolation cannot honour ${what}`, { hint });
  };
  if (spec.rootfs.lower.length > 0) refuse('lower dirs (an overlay)', 'materialise the root filesystem into rootfs.upper first (layer-store materialiseRootfs)');
  if (spec.network === 'none') refuse('--network none: the step shares the host\'s network (no network namespace)', 'use --isolation oci (runc), or drop --network none');
  for (const m of spec.mounts) {
    const file = m.type === 'bind' && m.readonly === true && statSync(m.source, { throwIfNoEntry: false })?.isFile();
    if (!file) refuse(`the ${m.type} mount at ${m.target}: nothing can be mounted`, 'use --isolation oci (runc) for this step');
  }
  if (spec.limits) refuse('cgroup limits (--memory, --cpus, --cpu-quota, --pids-limit)', 'use --isolation oci (runc), or drop the limits');
  if (spec.ulimits?.length) refuse('--ulimit', 'use --isolation oci (runc), or drop --ulimit');
  if (spec.shmSize !== undefined) refuse('--shm-size (there is no /dev/shm mount)', 'use --isolation oci (runc), or drop --shm-size');
  if (spec.cgroupParent !== undefined) refuse('--cgroup-parent', 'use --isolation oci (runc), or drop --cgroup-parent');
  if (io.stdin) refuse('stdin (-i)', 'use --isolation oci (runc)');
  if (spec.id !== undefined) refuse('--name', 'use --isolation oci (runc)');
  if (spec.readonlyRootfs) refuse('--read-only', 'use --isolation oci (runc)');
}

/**
 * Removes what #setUp made, puts the originals back and gives each touched directory its mtime back when its
 * entries are the same again. Returns the first generated /etc file the step changed, if any.
 */
function tearDown(managed: readonly Managed[], touched: ReadonlyMap<string, TouchedDir>): string | undefined {
  let changed: string | undefined;
  for (const m of [...managed].reverse()) {
    const st = lstatSync(m.path, { throwIfNoEntry: false });
    if (m.content && changed === undefined) {
      if (!st?.isFile() || (st.mode & 0o7777) !== 0o644 || !readFileSync(m.path).equals(m.content)) changed = m.path;
    }
    if (st && !st.isDirectory()) unlinkSync(m.path);
    if (m.saved) renameSync(m.saved, m.path);
  }
  const dirs = [...touched].sort((a, b) => b[0].length - a[0].length);
  for (const [dir, t] of dirs) {
    if (t.stub) {
      try {
        rmdirSync(dir);
        continue;
      } catch {
        // the step put something there: it stays, as new
      }
    }
    if (!t.stub && readdirSync(dir).sort().join('\0') === t.names) utimesSync(dir, Number(t.st.atimeNs) / 1e9, Number(t.st.mtimeNs) / 1e9);
  }
  if (changed === undefined) return undefined;
  const etc = changed.lastIndexOf('/etc/');
  return changed.slice(etc + 1);
}

/** Whether `nsenter` exists and works (used by findRuntime). */
export async function nsenterWorks(nsenter: string): Promise<boolean> {
  const r = await execCapture(nsenter, ['--version']).catch(() => undefined);
  return r?.code === 0;
}
