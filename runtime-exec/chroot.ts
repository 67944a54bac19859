import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AbortedError, type Logger, noopLogger } from '../layer-store/core/index.js';
import { checkBinfmt } from './binfmt.js';
import { CleanupStack } from './cleanup.js';
import { ContainerStartError } from './errors.js';
import { DEFAULT_HOSTNAME, writeEtcFiles } from './etc-files.js';
import { signalNumber } from './exec.js';
import { mountOverlay, unmount } from './overlay.js';
import { validateSpec } from './spec.js';
import { MountStubs } from './stubs.js';
import type { RunIO, RunSpec, Runtime } from './types.js';

export interface ChrootOptions {
  /** util-linux `unshare` binary. */
  readonly unshare: string;
  readonly tmpDir?: string;
  readonly logger?: Logger;
}

/** Exit code the setup script uses so a setup failure is not mistaken for the step's own exit code. */
const SETUP_FAILED = 231;

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The fallback isolation when no OCI runtime is installed (as `buildah --isolation chroot`): util-linux
 * `unshare --mount --pid --fork --uts --ipc [--net]`, then chroot into the overlay with `unshare --root`.
 * Weaker than runc: no cgroup limits, no capability dropping, no no_new_privs, no supplementary groups,
 * /dev is the host's /dev bind-mounted. Every mount made inside dies with the namespace.
 */
export class ChrootRuntime implements Runtime {
  readonly name = 'chroot' as const;
  readonly #o: ChrootOptions;
  readonly #log: Logger;

  constructor(o: ChrootOptions) {
    this.#o = o;
    this.#log = o.logger ?? noopLogger;
  }

  async run(spec: RunSpec, io: RunIO, signal: AbortSignal): Promise<{ exitCode: number }> {
    if (signal.aborted) throw new AbortedError({ cause: signal.reason });
    validateSpec(spec);
    if (spec.platform) await checkBinfmt(spec.platform);
    if (spec.limits) this.#log.warn('unshare fallback: cgroup limits are not applied', { limits: spec.limits });
    if (spec.cgroupParent !== undefined || spec.shmSize !== undefined || spec.ulimits?.length) {
      this.#log.warn('unshare fallback: --cgroup-parent, --shm-size and --ulimit are not applied', { cgroupParent: spec.cgroupParent, shmSize: spec.shmSize, ulimits: spec.ulimits });
    }
    if (spec.user.additionalGids?.length) this.#log.warn('unshare fallback: supplementary groups are not applied');
    if (io.stdin || spec.readonlyRootfs || spec.id !== undefined || spec.terminal || spec.capAdd?.length || spec.capDrop?.length) {
      const what = io.stdin ? 'stdin (-i)' : spec.readonlyRootfs ? '--read-only' : spec.id !== undefined ? '--name' : spec.terminal ? 'a terminal (-t)' : '--cap-add/--cap-drop';
      throw new ContainerStartError(`the chroot runtime cannot apply ${what}`, { hint: 'install runc (apt-get install -y runc)' });
    }
    const stack = new CleanupStack();
    let result: { exitCode: number } | undefined;
    let failure: unknown;
    try {
      result = await this.#run(spec, io, signal, stack);
    } catch (e) {
      failure = e;
    }
    const errs = await stack.close(this.#log);
    if (failure !== undefined) throw failure;
    if (errs.length > 0 || !result) throw new ContainerStartError('cleanup after the run failed', { cause: errs[0] });
    return result;
  }

  async #run(spec: RunSpec, io: RunIO, signal: AbortSignal, stack: CleanupStack): Promise<{ exitCode: number }> {
    // /dev is the host's here: a missing mountpoint below it (a RUN <<EOF script's /dev/pipes) would be made on the host.
    const inDev = spec.mounts.find((m) => posix.normalize(m.target).startsWith('/dev/') && !existsSync(posix.normalize(m.target)));
    if (inDev) {
      throw new ContainerStartError(`the unshare fallback cannot mount ${inDev.target}: /dev is the host's`, {
        hint: 'install runc (apt-get install -y runc) to run this step, or mount outside /dev',
      });
    }
    const bundle = await mkdtemp(join(this.#o.tmpDir ?? tmpdir(), 'tsbuild-run-'));
    stack.push(`remove ${bundle}`, () => rm(bundle, { recursive: true, force: true }));
    const root = join(bundle, 'rootfs');
    await mkdir(root);
    const stubs = new MountStubs();
    stack.push('remove mountpoint stubs', () => stubs.removeFrom(spec.rootfs.upper));
    await mountOverlay({ ...spec.rootfs, target: root, emptyLower: join(bundle, 'empty'), commands: spec.commands });
    stack.push(`unmount ${root}`, () => unmount(root));
    stack.push('inspect copied-up dirs', () => stubs.inspect(root, spec.rootfs.upper));
    await stubs.record(root, spec.rootfs.upper, ['/etc/hosts', '/etc/resolv.conf', '/etc/hostname', ...spec.mounts.map((m) => m.target)]);
    const etc = await writeEtcFiles(bundle, spec);
    const R = shq(root);
    const lines = [
      'set -e',
      `trap 'exit ${SETUP_FAILED}' EXIT`,
      `hostname ${shq(spec.hostname ?? DEFAULT_HOSTNAME)}`,
      spec.network === 'none' ? '(ip link set lo up || ifconfig lo up) >/dev/null 2>&1 || true' : ':',
      `mkdir -p ${R}/proc ${R}/dev ${R}/sys ${R}/etc`,
      `mount -t proc -o nosuid,noexec,nodev proc ${R}/proc`,
      `mount --rbind /dev ${R}/dev`,
      `mount -t sysfs -o ro,nosuid,noexec,nodev sysfs ${R}/sys`,
    ];
    const bindFile = (src: string, dst: string, ro: boolean) => {
      const d = shq(join(root, dst));
      lines.push(`[ -e ${d} ] || { mkdir -p "$(dirname ${d})"; if [ -d ${shq(src)} ]; then mkdir -p ${d}; else : > ${d}; fi; }`);
      lines.push(`mount --rbind ${shq(src)} ${d}`);
      if (ro) lines.push(`mount -o remount,bind,ro ${d}`);
    };
    bindFile(etc.hosts, '/etc/hosts', true);
    bindFile(etc.resolv, '/etc/resolv.conf', true);
    bindFile(etc.hostname, '/etc/hostname', true);
    for (const m of spec.mounts) {
      if (m.type === 'bind') bindFile(m.source, m.target, m.readonly === true);
      else {
        const d = shq(join(root, m.target));
        lines.push(`mkdir -p ${d}`, `mount -t tmpfs -o nosuid,nodev,mode=${(m.mode ?? 0o755).toString(8)}${m.size ? `,size=${m.size}` : ''} tmpfs ${d}`);
      }
    }
    lines.push(`mkdir -p ${shq(join(root, spec.cwd))}`);
    lines.push('trap - EXIT');
    lines.push(
      `exec env -i ${spec.env.map(shq).join(' ')} ${shq(this.#o.unshare)} --root=${R} --wd=${shq(spec.cwd)} ` +
        `--setgid ${spec.user.gid} --setuid ${spec.user.uid} -- ${spec.args.map(shq).join(' ')}`,
    );
    const script = join(bundle, 'init.sh');
    await writeFile(script, lines.join('\n') + '\n', { mode: 0o700 });
    const ns = ['--mount', '--pid', '--fork', '--uts', '--ipc', '--kill-child=SIGKILL', '--propagation', 'private'];
    if (spec.network === 'none') ns.push('--net');
    const child = spawn(this.#o.unshare, [...ns, '--', '/bin/sh', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let exited = false;
    const exit = new Promise<number>((resolve, reject) => {
      child.on('error', (e) => {
        exited = true;
        reject(new ContainerStartError(`cannot start ${this.#o.unshare}: ${e.message}`, { cause: e }));
      });
      child.on('exit', (code, sig) => {
        exited = true;
        resolve(code ?? 128 + (sig ? signalNumber(sig) : 0));
      });
    });
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      if (!exited) child.kill('SIGKILL');
    };
    signal.addEventListener('abort', onAbort, { once: true });
    stack.push('stop watching the abort signal', () => signal.removeEventListener('abort', onAbort));
    const [exitCode] = await Promise.all([
      exit,
      pipeline(child.stdout, io.stdout, { end: false }),
      pipeline(child.stderr, io.stderr, { end: false }),
    ]);
    if (aborted) throw new AbortedError({ cause: signal.reason });
    if (exitCode === SETUP_FAILED) throw new ContainerStartError('unshare fallback: setting up the container failed (see the output above)');
    return { exitCode };
  }
}
