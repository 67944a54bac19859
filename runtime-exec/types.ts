import type { CommandRunner } from '../layer-store/core/index.js';
import type { Readable, Writable } from 'node:stream';
import type { Platform } from '../layer-store/core/index.js';

/** A bind mount of a host path into the container (read-only when `readonly`). */
export interface BindMount {
  readonly type: 'bind';
  readonly source: string;
  readonly target: string;
  readonly readonly?: boolean;
}

/** A fresh tmpfs at `target` (size in bytes; mode as octal number, default 0o755 like Docker). */
export interface TmpfsMount {
  readonly type: 'tmpfs';
  readonly target: string;
  readonly size?: number;
  readonly mode?: number;
}

export type Mount = BindMount | TmpfsMount;

/** cgroup limits. `cpus` is a convenience for cpuQuota = cpus × cpuPeriod. */
export interface Limits {
  /** Memory limit in bytes (memory+swap is set to the same value: no swap). */
  readonly memoryBytes?: number;
  /** CFS quota in microseconds per `cpuPeriod` (default period 100000 µs). */
  readonly cpuQuota?: number;
  readonly cpuPeriod?: number;
  /** Number of CPUs (fractional), e.g. 1.5. Ignored when cpuQuota is given. */
  readonly cpus?: number;
  /** Maximum number of processes/threads in the container. */
  readonly pidsLimit?: number;
}

/** A resource limit (`--ulimit NAME=SOFT:HARD`): `name` as Docker spells it (`nofile`, `nproc`, …); −1 is unlimited. */
export interface Ulimit {
  readonly name: string;
  readonly soft: number;
  readonly hard: number;
}

/** An /etc/hosts entry (`--add-host host:ip`). */
export interface ExtraHost {
  readonly host: string;
  readonly ip: string;
}

export interface RunUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids?: readonly number[];
}

/**
 * Network modes:
 * - `none`: a new network namespace with only the loopback interface (up).
 * - `host`: the host's network namespace.
 * - `default`: the same as `host`. tsbuild has no CNI bridge, and BuildKit inside `docker build` on a daemon
 *   without a bridge (and `buildctl` with the default OCI worker's `host` mode) runs RUN steps with the
 *   host's network; so `default` means host networking.
 */
export type NetworkMode = 'none' | 'host' | 'default';

export interface RunSpec {
  /** Forks the helper commands of the run (mount, umount); default: each is spawned by this process. */
  readonly commands?: CommandRunner | undefined;
  readonly rootfs: {
    /** Read-only lower directories, top first (overlay `lowerdir` order). May be empty. */
    readonly lower: readonly string[];
    /** Writable upper directory; what the step changes lands here (whiteouts included). */
    readonly upper: string;
    /** Overlay work directory: empty, on the same filesystem as `upper`. */
    readonly work: string;
  };
  /** argv; args[0] is looked up in the container's PATH (from `env`). */
  readonly args: readonly string[];
  /** `KEY=VALUE` entries. */
  readonly env: readonly string[];
  /** Absolute working directory inside the container; created if missing (as Docker does). */
  readonly cwd: string;
  readonly user: RunUser;
  readonly network: NetworkMode;
  readonly mounts: readonly Mount[];
  readonly limits?: Limits;
  /** Hostname inside the container (default `tsbuild`). */
  readonly hostname?: string;
  /** Extra /etc/hosts entries: `{ host, ip }`. */
  readonly extraHosts?: readonly ExtraHost[];
  /** Resource limits of the process (run-settings.ts checkUlimit); RLIMIT_NOFILE defaults to NOFILE_LIMIT. */
  readonly ulimits?: readonly Ulimit[];
  /** Size of /dev/shm in bytes (default 64 MiB). */
  readonly shmSize?: number;
  /** The cgroup the container's cgroup is created under (`<parent>/tsbuild/<id>`; default: `/<id>`). */
  readonly cgroupParent?: string;
  /**
   * `sandbox` (default): Docker's default capabilities and seccomp profile, masked /proc paths, no_new_privs.
   * `insecure` (RUN --security=insecure, which the builder allows only with the security.insecure entitlement):
   * every capability and no seccomp filter, as BuildKit's insecure mode.
   */
  readonly security?: 'sandbox' | 'insecure';
  /** Target platform: when foreign, a binfmt_misc handler must be registered (see checkBinfmt). */
  readonly platform?: Platform;
  /** The container id (default: a fresh `tsbuild-<pid>-<hex>`); `tsbuild run --name`. */
  readonly id?: string;
  /** Mounts the container's root filesystem read-only (`tsbuild run --read-only`). */
  readonly readonlyRootfs?: boolean;
  /**
   * Capabilities added to and dropped from the defaults (`docker run --cap-add/--cap-drop`: names with or
   * without `CAP_`, any case, or `ALL`; capabilities.ts). Ignored under `security: 'insecure'`, which has them all.
   */
  readonly capAdd?: readonly string[];
  readonly capDrop?: readonly string[];
  /**
   * Gives the process a pseudo-terminal (`tsbuild run -t`) that runc itself connects to this process's own
   * stdin/stdout/stderr, one of which must be a terminal: runc sets it raw, copies both ways and follows its
   * size. `io.stdout`/`io.stderr` are then unused, and `io.stdin` only says whether input is forwarded (`-i`).
   */
  readonly terminal?: boolean;
  /** The terminal's size when the process starts (runc follows later changes itself on SIGWINCH). */
  readonly consoleSize?: { readonly rows: number; readonly columns: number };
}

export interface RunIO {
  /** Receives the process's stdout. Not ended by run(). */
  readonly stdout: Writable;
  /** Receives the process's stderr. Not ended by run(). */
  readonly stderr: Writable;
  /** The process's stdin (default: empty). Read to its end or until the process exits. */
  readonly stdin?: Readable;
  /** Signals to send to the process while it runs (`tsbuild run` forwards its SIGINT/SIGTERM as docker run does). */
  readonly signals?: SignalSource;
}

/** Calls `send` with each signal to forward; returns the function that stops it. */
export interface SignalSource {
  subscribe(send: (sig: NodeJS.Signals) => void): () => void;
}

export interface Runtime {
  /** `chroot` is the unshare fallback (chroot.ts); `chroot-isolation` runs in a plain dir by chroot alone (chroot-isolation.ts). */
  readonly name: 'runc' | 'chroot' | 'chroot-isolation';
  /**
   * Returns the exit code of the process (128+N when killed by signal N). Settles only after every mount,
   * process, cgroup and temporary directory it created is gone, on success, failure or abort. On abort it
   * kills the container and rejects with AbortedError; setup failures reject with ContainerStartError.
   */
  run(spec: RunSpec, io: RunIO, signal: AbortSignal): Promise<{ exitCode: number }>;
}
