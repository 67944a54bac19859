import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AbortedError, type Logger, noopLogger, runcStateRoot } from '../layer-store/core/index.js';
import { checkBinfmt } from './binfmt.js';
import { defaultBundleParent } from './bundle-dir.js';
import { CleanupStack } from './cleanup.js';
import { ContainerStartError, RuntimeMissingError } from './errors.js';
import { writeEtcFiles } from './etc-files.js';
import { execCapture } from './exec.js';
import { mountOverlay, unmount } from './overlay.js';
import { loadDefaultSeccompProfile, resolveSeccomp, type LinuxSeccomp, type SeccompProfile } from './seccomp.js';
import { mountTargets, nofileLimit, ociConfig, stepCapabilities, validateSpec } from './spec.js';
import { cgroupsPathFor, ociConfigText } from './run-settings.js';
import { adaptToUserNamespace, checkRootlessSpec } from './rootless.js';
import { MountStubs } from './stubs.js';
import { ShellRunner } from './commands.js';
import { startRunc } from './start-runc.js';
import { tiedCleanupScript } from './supervisor.js';
import type { RunIO, RunSpec, Runtime } from './types.js';

/** How long an aborted container gets to die after `runc kill KILL` before `runc run` itself is killed. */
const ABORT_GRACE_MS = 5000;
const KILL_RETRY_MS = 100;
const CGROUP_ROOT = '/sys/fs/cgroup';

export interface RuncOptions {
  /** The runc (or CLI-compatible OCI runtime) binary. */
  readonly path: string;
  /** runc's state root (`runc --root`); default runc's own (/run/runc, $XDG_RUNTIME_DIR/runc rootless). */
  readonly root?: string;
  /** Where bundles are created (default defaultBundleParent(): /dev/shm, else os.tmpdir()); each run makes and removes `tsbuild-run-*` here. */
  readonly tmpDir?: string;
  readonly logger?: Logger;
  /**
   * Who the containers belong to (the store root of the build): recorded as the annotation OWNER_ANNOTATION,
   * so that `tsbuild fsck` of that root finds a container its killed build left.
   */
  readonly owner?: string;
}

/** The config.json annotation naming the owner (RuncOptions.owner) of a tsbuild container. */
export const OWNER_ANNOTATION = 'org.tsbuild.owner';

/**
 * Returns a unique container id: `tsbuild-<pid of this process>-<12 hex digits>`. The pid tells whether the
 * build that ran it is still there (layer-store's leftover check reads it back).
 */
export function newContainerId(): string {
  return `tsbuild-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Removes the cgroup `path` (relative to every hierarchy) where it is left over; runc delete normally does it. */
async function removeCgroup(path: string): Promise<void> {
  let hierarchies: string[] = [];
  try {
    hierarchies = await readdir(CGROUP_ROOT);
  } catch {
    return;
  }
  const candidates = [join(CGROUP_ROOT, path), ...hierarchies.map((h) => join(CGROUP_ROOT, h, path))];
  for (const c of candidates) {
    try {
      await rmdir(c);
    } catch {
      // not there (the usual case) or not a cgroup dir
    }
  }
}

/** Parses runc's JSON log and returns the messages at level error/fatal. */
function runcErrors(log: string): string[] {
  const out: string[] = [];
  for (const line of log.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as { level?: string; msg?: string };
      if ((e.level === 'error' || e.level === 'fatal') && e.msg) out.push(e.msg);
    } catch {
      out.push(line);
    }
  }
  return out;
}

/** Runs steps with runc: an OCI bundle over an overlay mount, removed again when the step ends. */
export class RuncRuntime implements Runtime {
  readonly name = 'runc' as const;
  readonly #o: RuncOptions;
  readonly #log: Logger;
  #profile: SeccompProfile | undefined;
  readonly #seccomp = new Map<string, LinuxSeccomp>();

  constructor(o: RuncOptions) {
    this.#o = o;
    this.#log = o.logger ?? noopLogger;
  }

  /** runc's state dir of container `id` (present from create until delete). */
  #stateDir(id: string): string {
    return join(this.#o.root ?? runcStateRoot(), id);
  }

  /** Returns the seccomp section of a step with `caps` (Docker's default profile, resolved once per cap set). */
  #seccompFor(caps: readonly string[]): LinuxSeccomp {
    const key = caps.join(',');
    let s = this.#seccomp.get(key);
    if (!s) {
      this.#profile ??= loadDefaultSeccompProfile();
      s = resolveSeccomp(this.#profile, { capabilities: caps });
      this.#seccomp.set(key, s);
    }
    return s;
  }

  #runc(...args: string[]): string[] {
    return this.#o.root ? ['--root', this.#o.root, ...args] : args;
  }

  async run(spec: RunSpec, io: RunIO, signal: AbortSignal): Promise<{ exitCode: number }> {
    if (signal.aborted) throw new AbortedError({ cause: signal.reason });
    validateSpec(spec);
    checkRootlessSpec(spec);
    if (spec.platform) await checkBinfmt(spec.platform);
    const stack = new CleanupStack();
    let result: { exitCode: number } | undefined;
    let failure: unknown;
    try {
      result = await this.#run(spec, io, signal, stack);
    } catch (e) {
      failure = e;
    }
    const cleanupErrors = await stack.close(this.#log);
    if (failure !== undefined) throw failure;
    if (cleanupErrors.length > 0) {
      throw new ContainerStartError(`cleanup after the run failed: ${cleanupErrors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}`, {
        cause: cleanupErrors[0],
        hint: 'a mount or directory may be left behind; check `mount | grep tsbuild-run` and `runc list`',
      });
    }
    if (!result) throw new ContainerStartError('run ended without a result');
    return result;
  }

  async #run(spec: RunSpec, io: RunIO, signal: AbortSignal, stack: CleanupStack): Promise<{ exitCode: number }> {
    // The bundle's small files are written synchronously (a dozen thread-pool round trips fewer per step), and
    // while the overlay mount, a helper process, is being made.
    const bundle = mkdtempSync(join(this.#o.tmpDir ?? defaultBundleParent(), 'tsbuild-run-'));
    const id = spec.id ?? newContainerId();
    const terminal = spec.terminal === true;
    // A build's step is tied to the build's helper shell (no supervisor of its own, see supervisor.ts), from now
    // until everything below is undone: released last.
    const shell = !terminal && io.stdin === undefined && spec.commands instanceof ShellRunner ? spec.commands : undefined;
    const untie = shell?.tieOnExit(tiedCleanupScript({ runc: this.#o.path, root: this.#o.root, id, bundle }));
    if (untie) stack.push('release the exit tie', untie);
    stack.push(`remove ${bundle}`, async () => rmSync(bundle, { recursive: true, force: true }));
    const rootfs = join(bundle, 'rootfs');
    mkdirSync(rootfs);
    const stubs = new MountStubs();
    stack.push('remove mountpoint stubs', () => stubs.removeFrom(spec.rootfs.upper));
    const mounting = mountOverlay({ ...spec.rootfs, target: rootfs, emptyLower: join(bundle, 'empty'), commands: spec.commands });
    let cgroupsPath: string;
    try {
      const etc = await writeEtcFiles(bundle, spec);
      cgroupsPath = cgroupsPathFor(id, spec.cgroupParent);
      const seccomp = spec.security === 'insecure' ? undefined : this.#seccompFor(stepCapabilities(spec));
      const config = ociConfig(spec, etc, cgroupsPath, {
        nofile: await nofileLimit(),
        ...(seccomp ? { seccomp } : {}),
        ...(this.#o.owner !== undefined ? { annotations: { [OWNER_ANNOTATION]: this.#o.owner } } : {}),
      });
      adaptToUserNamespace(config);
      writeFileSync(join(bundle, 'config.json'), ociConfigText(config), { mode: 0o600 });
    } catch (e) {
      await mounting.then(() => unmount(rootfs, spec.commands), () => undefined).catch(() => undefined);
      throw e;
    }
    await mounting;
    stack.push(`unmount ${rootfs}`, () => unmount(rootfs, spec.commands));
    stack.push('inspect copied-up dirs', () => stubs.inspect(rootfs, spec.rootfs.upper));
    await stubs.record(rootfs, spec.rootfs.upper, mountTargets(spec));
    if (signal.aborted) throw new AbortedError({ cause: signal.reason });

    const runcLog = join(bundle, 'runc.log');
    stack.push(`remove cgroup ${cgroupsPath}`, async () => {
      if (existsSync(this.#stateDir(id))) await removeCgroup(cgroupsPath);
    });
    stack.push(`runc delete ${id}`, async () => {
      // A `runc run` that ended normally has deleted its container (cgroups first, its state dir last): nothing
      // to do, and one process spawn fewer per step. Its state dir still being there means runc was killed.
      if (!existsSync(this.#stateDir(id))) return; // one stat, synchronous: no thread-pool round trip
      const r = await execCapture(this.#o.path, this.#runc('delete', '--force', id));
      if (r.code !== 0 && !/does not exist|not found/i.test(r.stderr)) {
        throw new ContainerStartError(`runc delete ${id} failed: ${r.stderr.trim()}`);
      }
    });
    // Names what this run creates, for `--debug` and for tests that check what their own runs left (test/helpers/owned.ts).
    this.#log.debug('runc run', { id, bundle, cgroupsPath, args: spec.args });
    // Tied to the build's helper shell, else under a supervisor of its own: either kills the container when this
    // process dies, however it dies (supervisor.ts).
    const runArgs = ['--log', runcLog, '--log-format', 'json', 'run', '--bundle', bundle, id];
    const started = startRunc({ runc: this.#o.path, root: this.#o.root, id, bundle, runArgs, io, terminal, shell: untie ? shell : undefined });
    stack.push('undo what starting runc set up', () => started.close());
    const exit = started.exit;
    let aborted = false;
    let killing: Promise<void> | undefined;
    const onAbort = () => {
      aborted = true;
      killing ??= (async () => {
        const t0 = Date.now();
        while (!started.exited()) {
          await execCapture(this.#o.path, this.#runc('kill', id, 'KILL')).catch(() => undefined);
          if (Date.now() - t0 > ABORT_GRACE_MS) started.killGroup();
          await new Promise((r) => setTimeout(r, KILL_RETRY_MS));
        }
      })();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    stack.push('stop watching the abort signal', () => signal.removeEventListener('abort', onAbort));
    if (io.signals) {
      // runc kill sends to the container's init (the process); one sent before runc has created it is lost, as in docker.
      const stop = io.signals.subscribe((sig) => {
        if (!started.exited()) void execCapture(this.#o.path, this.#runc('kill', id, sig.replace(/^SIG/, ''))).catch(() => undefined);
      });
      stack.push('stop forwarding signals', stop);
    }
    let exitCode: number;
    try {
      const [code] = await Promise.all([exit, started.output]);
      exitCode = code;
    } catch (e) {
      if (!started.exited()) onAbort();
      await killing;
      throw e;
    }
    await killing;
    if (aborted) throw new AbortedError({ cause: signal.reason });
    let log: string | undefined;
    try {
      log = readFileSync(runcLog, 'utf8');
    } catch {
      log = undefined;
    }
    // runc creates its --log file as it starts; a "runtime" that exits without one is not a working runc.
    if (log === undefined && exitCode !== 0) {
      throw new RuntimeMissingError(`OCI runtime ${this.#o.path} does not work: it exited with ${exitCode} without starting a container`, {
        hint: 'pass --runtime with the path of a working runc-compatible runtime, or install runc (apt-get install -y runc)',
      });
    }
    const errors = runcErrors(log ?? '');
    if (errors.length > 0) {
      const msg = errors[errors.length - 1] ?? 'runc failed';
      const notFound = /executable file not found|no such file or directory/.test(msg);
      throw new ContainerStartError(`container start failed: ${msg}`, {
        hint: notFound ? `the command ${JSON.stringify(spec.args[0] ?? '')} does not exist in the image (check PATH and the base image)` : 'see the runc message above',
      });
    }
    return { exitCode };
  }
}
