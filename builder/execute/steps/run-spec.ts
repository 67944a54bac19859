/**
 * The parts of a RUN step's container that come from the build rather than the instruction: the shebang script
 * file (plan's runCommand), the sandbox hostname (BUILDKIT_SANDBOX_HOSTNAME), and buildx's `--add-host`,
 * `--ulimit`, `--shm-size` and `--cgroup-parent` (checked once before the build; they enter RUN keys as BuildKit's
 * exec op does: host names without their IPs, the rest as given).
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TsbuildError } from '../../../layer-store/index.js';
import {
  checkCgroupParent, checkExtraHost, checkShmSize, checkUlimit, type ExtraHost, type Mount, type RunSpec,
} from '../../../runtime-exec/index.js';
import { SCRIPT_DIR, type RunKeyOptions, type RunScript } from '../../plan/index.js';
import type { BuildOptions } from '../options.js';
import type { Scratch } from '../workspace.js';

/** The build arg that sets RUN's hostname (BuildKit's dockerui `build-arg:BUILDKIT_SANDBOX_HOSTNAME`). */
export const HOSTNAME_ARG = 'BUILDKIT_SANDBOX_HOSTNAME';

/** A hostname the kernel takes (at most 64 bytes) and /etc/hosts can hold: letters, digits, `-`, `.`, `_`. */
const HOSTNAME_RE = /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,62})$/;

/**
 * Returns RUN's hostname from the build arg BUILDKIT_SANDBOX_HOSTNAME, or undefined (the runtime's default) when
 * it is not given or empty. Throws a USAGE error for a value that cannot be a hostname.
 */
export function sandboxHostname(o: Pick<BuildOptions, 'buildArgs'>): string | undefined {
  const v = o.buildArgs?.[HOSTNAME_ARG];
  if (v === undefined || v === '') return undefined;
  if (!HOSTNAME_RE.test(v)) {
    throw new TsbuildError('USAGE', `--build-arg ${HOSTNAME_ARG}=${v}: not a valid hostname`, {
      hint: 'use at most 64 letters, digits, dots, dashes or underscores',
    });
  }
  return v;
}

/**
 * Writes `script` as `<scratch>/pipes/<name>` (mode 0755) and returns the read-only mount of that dir at
 * SCRIPT_DIR, as BuildKit mounts a shebang heredoc. The file goes when the scratch dir does.
 */
export async function runScriptMount(s: Scratch, script: RunScript): Promise<Mount> {
  const dir = join(s.dir, 'pipes');
  await mkdir(dir);
  await chmod(dir, 0o755);
  const file = join(dir, script.name);
  await writeFile(file, script.data);
  await chmod(file, 0o755); // whatever the umask: the step's user may not be root
  return { type: 'bind', source: dir, target: SCRIPT_DIR, readonly: true };
}

/** The IP `--add-host NAME:host-gateway` stands for: RUN shares the host's network, so the host is its loopback. */
export const HOST_GATEWAY_IP = '127.0.0.1';

/** Returns `extraHosts` with `host-gateway` replaced by HOST_GATEWAY_IP, lower-cased (BuildKit lower-cases each entry). */
function resolvedHosts(hosts: readonly ExtraHost[] | undefined): ExtraHost[] {
  return (hosts ?? []).map((h) => ({ host: h.host.toLowerCase(), ip: h.ip === 'host-gateway' ? HOST_GATEWAY_IP : h.ip.toLowerCase() }));
}

/** Throws the first USAGE error of the run settings in `o` (sandbox hostname, hosts, ulimits, shm size, cgroup parent). */
export function checkRunSettings(o: BuildOptions): void {
  sandboxHostname(o);
  for (const h of resolvedHosts(o.extraHosts)) checkExtraHost(h);
  for (const u of o.ulimits ?? []) checkUlimit(u);
  if (o.shmSize !== undefined) checkShmSize(o.shmSize);
  if (o.cgroupParent !== undefined) checkCgroupParent(o.cgroupParent);
}

type BuildRunSpec = Pick<RunSpec, 'hostname' | 'extraHosts' | 'ulimits' | 'shmSize' | 'cgroupParent'>;

/** Returns the RunSpec fields the build gives every RUN (only those set). */
export function buildRunSpec(o: BuildOptions): BuildRunSpec {
  const hostname = sandboxHostname(o);
  const hosts = resolvedHosts(o.extraHosts);
  return {
    ...(hostname !== undefined ? { hostname } : {}),
    ...(hosts.length ? { extraHosts: hosts } : {}),
    ...(o.ulimits?.length ? { ulimits: o.ulimits } : {}),
    ...(o.shmSize !== undefined ? { shmSize: o.shmSize } : {}),
    ...(o.cgroupParent !== undefined ? { cgroupParent: o.cgroupParent } : {}),
  };
}

/** Returns what of `spec` enters a RUN key (plan's RunKeyOptions): every setting given, hosts by name only. */
export function runSpecKey(spec: BuildRunSpec): Pick<RunKeyOptions, 'hostname' | 'hosts' | 'ulimits' | 'shmSize' | 'cgroupParent'> {
  return {
    ...(spec.hostname !== undefined ? { hostname: spec.hostname } : {}),
    ...(spec.extraHosts ? { hosts: spec.extraHosts.map((h) => h.host) } : {}),
    ...(spec.ulimits ? { ulimits: spec.ulimits.map((u) => `${u.name}=${u.soft}:${u.hard}`) } : {}),
    ...(spec.shmSize !== undefined ? { shmSize: spec.shmSize } : {}),
    ...(spec.cgroupParent !== undefined ? { cgroupParent: spec.cgroupParent } : {}),
  };
}
