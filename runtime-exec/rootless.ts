/**
 * What changes when tsbuild runs in a user namespace (rootless mode, cli/rootless.ts): runc is uid 0 there but
 * owns neither the host's cgroups nor its network namespace, so a step's config gets no cgroup path (runc's
 * rootless cgroup manager then skips cgroups it cannot create) and /sys as a read-only bind of the host's (sysfs
 * can only be mounted by the owner of the network namespace), as `runc spec --rootless` makes it. Limits need
 * cgroups that this user may write (cgroup v2 delegation), which tsbuild does not set up: asked for, they fail.
 */
import { inUserNamespace } from '../layer-store/core/index.js';
import { ContainerStartError } from './errors.js';
import type { RunSpec } from './types.js';

/** The flags that need a cgroup of the step's own, by the RunSpec field they set. */
function cgroupFlags(spec: RunSpec): string[] {
  const l = spec.limits ?? {};
  const out: string[] = [];
  if (l.memoryBytes !== undefined) out.push('--memory');
  if (l.cpus !== undefined || l.cpuQuota !== undefined || l.cpuPeriod !== undefined) out.push('--cpus');
  if (l.pidsLimit !== undefined) out.push('--pids-limit');
  if (spec.cgroupParent !== undefined) out.push('--cgroup-parent');
  return out;
}

/** Throws, in a user namespace, when the step asks for cgroup limits (see the module comment); else nothing. */
export function checkRootlessSpec(spec: RunSpec): void {
  if (!inUserNamespace()) return;
  const flags = cgroupFlags(spec);
  if (flags.length === 0) return;
  throw new ContainerStartError(`${flags.join(', ')} cannot be applied rootless: the step would need a cgroup this user may write, and tsbuild does not use cgroup v2 delegation`, {
    hint: `drop ${flags.join(' and ')}, or build as root`,
  });
}

interface OciMount { destination: string; type: string; source: string; options?: string[] }

/** Changes a step's OCI config (from ociConfig) in place for a user namespace; a no-op outside one. */
export function adaptToUserNamespace(config: Record<string, unknown>): void {
  if (!inUserNamespace()) return;
  const linux = config['linux'] as Record<string, unknown> | undefined;
  if (linux) delete linux['cgroupsPath'];
  const mounts = config['mounts'] as OciMount[] | undefined;
  for (const m of mounts ?? []) {
    if (m.destination === '/sys' && m.type === 'sysfs') {
      const rw = m.options?.includes('rw') ?? false;
      m.type = 'bind';
      m.source = '/sys';
      m.options = ['rbind', 'nosuid', 'noexec', 'nodev', rw ? 'rw' : 'ro'];
    }
  }
}
