/**
 * Docker's default seccomp profile for RUN steps (as `docker build` applies it): the profile is data
 * (`seccomp-default.json`, moby's `default.json`, Apache-2.0), and `resolveSeccomp` turns it into the runc spec's
 * `linux.seccomp` for one step, with the semantics of moby's `setupSeccomp`:
 * - default action SCMP_ACT_ERRNO with errnoRet 1 (EPERM) for every syscall not allowed;
 * - `architectures`: the host's entry of `archMap` (e.g. x86_64 + x86 + x32). Under qemu-user emulation the
 *   kernel sees the emulator's host syscalls, so it is always the host's arch set, never the step's platform;
 * - a rule with `includes`/`excludes` is kept when (includes) every listed cap is in the step's bounding set,
 *   the host arch is listed and the kernel is at least `minKernel`; and dropped when (excludes) any listed cap
 *   is in the bounding set, the host arch is listed, or the kernel is at least `minKernel`.
 */
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { hostPlatform } from '../layer-store/core/index.js';
import { ContainerStartError } from './errors.js';

/** A seccomp profile in moby's format (the parts tsbuild reads). */
export interface SeccompProfile {
  readonly defaultAction: string;
  readonly defaultErrnoRet?: number;
  readonly archMap?: readonly { readonly architecture: string; readonly subArchitectures: readonly string[] | null }[];
  readonly syscalls: readonly SeccompRule[];
}

interface SeccompFilter {
  readonly caps?: readonly string[];
  readonly arches?: readonly string[];
  readonly minKernel?: string;
}

interface SeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: string;
}

interface SeccompRule {
  readonly names: readonly string[];
  readonly action: string;
  readonly errnoRet?: number;
  readonly args?: readonly SeccompArg[] | null;
  readonly comment?: string;
  readonly includes?: SeccompFilter;
  readonly excludes?: SeccompFilter;
}

/** The OCI runtime-spec `linux.seccomp` section. */
export interface LinuxSeccomp {
  readonly defaultAction: string;
  readonly defaultErrnoRet?: number;
  readonly architectures: readonly string[];
  readonly syscalls: readonly { names: readonly string[]; action: string; errnoRet?: number; args?: readonly SeccompArg[] }[];
}

/** The host facts a profile is resolved against. */
export interface SeccompTarget {
  /** The step's bounding capability set (`CAP_…`), as moby checks `Process.Capabilities.Bounding`. */
  readonly capabilities: readonly string[];
  /** libseccomp's name of the host architecture (`amd64`, `arm64`, `x86`…); default this host's. */
  readonly arch?: string;
  /** The running kernel's release (`6.1.0-18-amd64`); default this host's. */
  readonly kernel?: string;
}

/** OCI/Go architecture → libseccomp's native name (moby's goToNative). */
const NATIVE_ARCH: Readonly<Record<string, string>> = {
  '386': 'x86', amd64: 'amd64', arm: 'arm', arm64: 'arm64', loong64: 'loongarch64', mips64: 'mips64',
  mips64le: 'mipsel64', mipsle: 'mipsel', ppc: 'ppc', ppc64: 'ppc64', ppc64le: 'ppc64le', riscv64: 'riscv64',
  s390: 's390', s390x: 's390x',
};

/** libseccomp's native name → the spec's SCMP_ARCH_* (moby's nativeToSeccomp). */
const SECCOMP_ARCH: Readonly<Record<string, string>> = {
  x86: 'SCMP_ARCH_X86', amd64: 'SCMP_ARCH_X86_64', arm: 'SCMP_ARCH_ARM', arm64: 'SCMP_ARCH_AARCH64',
  loongarch64: 'SCMP_ARCH_LOONGARCH64', mips64: 'SCMP_ARCH_MIPS64', mips64n32: 'SCMP_ARCH_MIPS64N32',
  mipsel64: 'SCMP_ARCH_MIPSEL64', mipsel: 'SCMP_ARCH_MIPSEL', ppc: 'SCMP_ARCH_PPC', ppc64: 'SCMP_ARCH_PPC64',
  ppc64le: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64', s390: 'SCMP_ARCH_S390', s390x: 'SCMP_ARCH_S390X',
};

/** The data file, beside this module's source (one level up from dist/runtime-exec or dist/bin). */
const PROFILE_URL = new URL('../../runtime-exec/seccomp-default.json', import.meta.url);

/** Returns Docker's default profile, read from `seccomp-default.json`. Throws ContainerStartError when unreadable. */
export function loadDefaultSeccompProfile(): SeccompProfile {
  try {
    return JSON.parse(readFileSync(PROFILE_URL, 'utf8')) as SeccompProfile;
  } catch (e) {
    throw new ContainerStartError(`cannot read the default seccomp profile ${PROFILE_URL.pathname}: ${(e as Error).message}`, {
      cause: e, hint: 'reinstall tsbuild: runtime-exec/seccomp-default.json belongs to the package',
    });
  }
}

/** Returns libseccomp's name for this host's architecture (`amd64`, `arm64`…). */
export function hostSeccompArch(): string {
  const a = hostPlatform().architecture;
  return NATIVE_ARCH[a] ?? a;
}

/** Returns true when kernel release `running` is at least `min` (`major.minor`; patch levels are ignored, as moby does). */
export function kernelAtLeast(running: string, min: string): boolean {
  const parse = (s: string): [number, number] => {
    const m = /^(\d+)\.(\d+)/.exec(s);
    if (!m) throw new ContainerStartError(`cannot parse kernel version ${JSON.stringify(s)}`, { hint: 'the seccomp profile needs major.minor kernel versions' });
    return [Number(m[1]), Number(m[2])];
  };
  const [rk, rm] = parse(running);
  const [mk, mm] = parse(min);
  return rk > mk || (rk === mk && rm >= mm);
}

function keep(rule: SeccompRule, caps: ReadonlySet<string>, arch: string, kernel: string): boolean {
  const ex = rule.excludes;
  if (ex) {
    if (ex.arches?.includes(arch)) return false;
    if (ex.caps?.some((c) => caps.has(c))) return false;
    if (ex.minKernel !== undefined && kernelAtLeast(kernel, ex.minKernel)) return false;
  }
  const inc = rule.includes;
  if (inc) {
    if (inc.arches && inc.arches.length > 0 && !inc.arches.includes(arch)) return false;
    if (inc.caps && !inc.caps.every((c) => caps.has(c))) return false;
    if (inc.minKernel !== undefined && !kernelAtLeast(kernel, inc.minKernel)) return false;
  }
  return true;
}

/**
 * Returns the runc spec's `linux.seccomp` for `profile` resolved against `target` (see the file comment): the
 * rules that apply, in profile order, without their includes/excludes/comment fields.
 */
export function resolveSeccomp(profile: SeccompProfile, target: SeccompTarget): LinuxSeccomp {
  const arch = target.arch ?? hostSeccompArch();
  const kernel = target.kernel ?? release();
  const caps = new Set(target.capabilities);
  const scmpArch = SECCOMP_ARCH[arch];
  const entry = profile.archMap?.find((a) => a.architecture === scmpArch);
  const architectures = entry ? [entry.architecture, ...(entry.subArchitectures ?? [])] : [];
  const syscalls = profile.syscalls.filter((r) => keep(r, caps, arch, kernel)).map((r) => ({
    names: [...r.names],
    action: r.action,
    ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
    ...(r.args && r.args.length > 0 ? { args: r.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op })) } : {}),
  }));
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures,
    syscalls,
  };
}
