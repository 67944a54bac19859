import { readFileSync } from 'node:fs';
import type { EtcFiles } from './etc-files.js';
import { DEFAULT_HOSTNAME } from './etc-files.js';
import { ContainerStartError } from './errors.js';
import type { LinuxSeccomp } from './seccomp.js';
import { stepRlimits } from './run-settings.js';
import { tweakCapabilities } from './capabilities.js';
import type { Limits, RunSpec } from './types.js';

/** Docker's default capability set (moby `oci/caps/defaults.go`). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Paths Docker masks and makes read-only in /proc and /sys. */
const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** Every capability runc 1.1 knows (0 … CAP_CHECKPOINT_RESTORE = 40), in number order: `--security=insecure`. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ',
  'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * Returns the bounding capability set of a step: Docker's defaults, or under `insecure` every capability this
 * process may pass on (its own bounding set: inside a container tsbuild may lack some, and runc fails to
 * apply a capability it does not have).
 */
export function stepCapabilities(spec: Pick<RunSpec, 'security' | 'capAdd' | 'capDrop'>): readonly string[] {
  if (spec.security !== 'insecure') {
    if (!spec.capAdd?.length && !spec.capDrop?.length) return DEFAULT_CAPABILITIES;
    return tweakCapabilities(DEFAULT_CAPABILITIES, spec.capAdd ?? [], spec.capDrop ?? [], ALL_CAPABILITIES);
  }
  let bounding: bigint;
  try {
    const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    bounding = hex !== undefined ? BigInt(`0x${hex}`) : -1n;
  } catch {
    bounding = -1n;
  }
  return ALL_CAPABILITIES.filter((_c, i) => bounding === -1n || ((bounding >> BigInt(i)) & 1n) === 1n);
}

/** File descriptor limit of a step (soft = hard), as dockerd's default; capped at our own hard limit. */
export const NOFILE_LIMIT = 1048576;

const DEFAULT_CPU_PERIOD = 100_000;

/** The container paths runc mounts over, in mount order (used to record mountpoint stubs). */
export function mountTargets(spec: RunSpec): string[] {
  // As BuildKit's MountStubsCleaner: the stubs of the generated /etc files and of the step's own mounts are
  // removed after the run; /proc, /sys and /dev mountpoints that the image lacked stay as empty directories
  // (BuildKit's images have them too).
  return [
    '/etc/hosts', '/etc/resolv.conf', '/etc/hostname',
    ...spec.mounts.map((m) => m.target),
  ];
}

/**
 * Returns the supplementary gids a process gets: `additionalGids` with the primary gid first unless already there,
 * as containerd's and BuildKit's ensureAdditionalGids do (so `id` lists the primary group among the groups).
 */
export function withPrimaryGid(user: RunSpec['user']): number[] {
  const extra = [...(user.additionalGids ?? [])];
  return extra.includes(user.gid) ? extra : [user.gid, ...extra];
}

interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

function resources(l: Limits | undefined): Record<string, unknown> | undefined {
  if (!l) return undefined;
  const r: Record<string, unknown> = {};
  if (l.memoryBytes !== undefined) r['memory'] = { limit: l.memoryBytes, swap: l.memoryBytes };
  const period = l.cpuPeriod ?? DEFAULT_CPU_PERIOD;
  const quota = l.cpuQuota ?? (l.cpus !== undefined ? Math.round(l.cpus * period) : undefined);
  if (quota !== undefined) r['cpu'] = { quota, period };
  if (l.pidsLimit !== undefined) r['pids'] = { limit: l.pidsLimit };
  return Object.keys(r).length ? r : undefined;
}

export interface OciConfigOptions {
  /** RLIMIT_NOFILE (soft = hard) unless `spec.ulimits` sets nofile; default NOFILE_LIMIT. */
  readonly nofile?: number;
  /** `linux.seccomp` (resolveSeccomp); none when absent. Ignored under `security: 'insecure'`. */
  readonly seccomp?: LinuxSeccomp;
  /** OCI annotations (runc list shows them): who owns the container. */
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * Returns an OCI runtime-spec `config.json` object for `spec`: rootfs `rootfs` (relative to the bundle),
 * namespaces pid/mount/ipc/uts (+network unless host), Docker's default capabilities (effective only for
 * uid 0), no_new_privs, `o.seccomp`, masked and read-only /proc paths, /etc files bind-mounted read-only from
 * the bundle, cgroup limits at `cgroupsPath`. Under `security: 'insecure'` (BuildKit's insecure entitlement,
 * privileged-like): every capability, no seccomp filter, no masked or read-only paths, a writable /sys and no
 * no_new_privs.
 */
export function ociConfig(spec: RunSpec, etc: EtcFiles, cgroupsPath: string, o: OciConfigOptions = {}): Record<string, unknown> {
  const nofile = o.nofile ?? NOFILE_LIMIT;
  const root = spec.user.uid === 0;
  const insecure = spec.security === 'insecure';
  const caps = [...stepCapabilities(spec)];
  const namespaces: { type: string }[] = [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }];
  if (spec.network === 'none') namespaces.push({ type: 'network' });
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', spec.shmSize !== undefined ? `size=${spec.shmSize}` : 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', insecure ? 'rw' : 'ro'] },
    { destination: '/etc/hosts', type: 'bind', source: etc.hosts, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
    { destination: '/etc/resolv.conf', type: 'bind', source: etc.resolv, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
    { destination: '/etc/hostname', type: 'bind', source: etc.hostname, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] },
  ];
  for (const m of spec.mounts) {
    if (m.type === 'bind') {
      mounts.push({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', m.readonly ? 'ro' : 'rw'] });
    } else {
      const o = ['nosuid', 'nodev', `mode=${(m.mode ?? 0o755).toString(8)}`];
      if (m.size !== undefined) o.push(`size=${m.size}`);
      mounts.push({ destination: m.target, type: 'tmpfs', source: 'tmpfs', options: o });
    }
  }
  const res = resources(spec.limits);
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: spec.terminal === true,
      ...(spec.terminal && spec.consoleSize ? { consoleSize: { height: spec.consoleSize.rows, width: spec.consoleSize.columns } } : {}),
      user: { uid: spec.user.uid, gid: spec.user.gid, additionalGids: withPrimaryGid(spec.user) },
      args: [...spec.args],
      env: [...spec.env],
      cwd: spec.cwd,
      capabilities: {
        bounding: caps,
        effective: root ? caps : [],
        permitted: root ? caps : [],
        inheritable: [],
        ambient: [],
      },
      rlimits: stepRlimits(spec.ulimits, nofile),
      noNewPrivileges: !insecure,
    },
    root: { path: 'rootfs', readonly: spec.readonlyRootfs === true },
    hostname: spec.hostname ?? DEFAULT_HOSTNAME,
    mounts,
    ...(o.annotations ? { annotations: { ...o.annotations } } : {}),
    linux: {
      namespaces,
      cgroupsPath,
      ...(res ? { resources: res } : {}),
      ...(insecure ? {} : { maskedPaths: MASKED_PATHS, readonlyPaths: READONLY_PATHS }),
      ...(o.seccomp && !insecure ? { seccomp: o.seccomp } : {}),
    },
  };
}

/** Returns NOFILE_LIMIT, capped at this process's hard RLIMIT_NOFILE (raising it needs CAP_SYS_RESOURCE). */
export async function nofileLimit(): Promise<number> {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8'); // one small read, at every RUN
    const m = /^Max open files\s+\S+\s+(\S+)/m.exec(limits);
    const hard = m?.[1] === 'unlimited' ? Infinity : Number(m?.[1]);
    return Number.isFinite(hard) && hard > 0 ? Math.min(hard, NOFILE_LIMIT) : NOFILE_LIMIT;
  } catch {
    return NOFILE_LIMIT;
  }
}

/** Throws ContainerStartError when `spec` cannot be run: no args, a relative cwd or mount target. */
export function validateSpec(spec: RunSpec): void {
  if (spec.args.length === 0) throw new ContainerStartError('nothing to run: the command is empty', { hint: 'give RUN a command' });
  if (!spec.cwd.startsWith('/')) throw new ContainerStartError(`working directory ${JSON.stringify(spec.cwd)} is not absolute`, { hint: 'WORKDIR must resolve to an absolute path' });
  for (const m of spec.mounts) {
    if (!m.target.startsWith('/')) throw new ContainerStartError(`mount target ${JSON.stringify(m.target)} is not absolute`, { hint: 'use an absolute target path' });
  }
  stepCapabilities(spec); // an unknown --cap-add/--cap-drop name fails here, before anything is mounted
}
