import type { Platform } from './model.js';
import { TsbuildError } from './errors.js';

const ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/**
 * The operating systems a platform may name: Go's GOOS values, as containerd's `platforms` package knows them
 * (its `isKnownOS`, generated from go/build/syslist.go).
 */
export const KNOWN_OS: readonly string[] = Object.freeze([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd',
  'openbsd', 'plan9', 'solaris', 'wasip1', 'windows', 'zos',
]);

/** The architectures a platform may name: Go's GOARCH values, as containerd's `isKnownArch` lists them. */
export const KNOWN_ARCH: readonly string[] = Object.freeze([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'loong64', 'mips', 'mipsle', 'mips64', 'mips64le',
  'mips64p32', 'mips64p32le', 'ppc', 'ppc64', 'ppc64le', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);

const range = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

/**
 * The variants each architecture may carry (after normalisation): the OCI image-index values for arm and arm64,
 * and Go's GOAMD64, GORISCV64 and GOPPC64 levels. An architecture not listed here takes no variant.
 */
export const KNOWN_VARIANTS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  arm: ['v5', 'v6', 'v7', 'v8'],
  arm64: ['v8', ...range('v8.', 1, 9), 'v9', ...range('v9.', 1, 5)],
  amd64: range('v', 2, 4),
  riscv64: ['rva20u64', 'rva22u64', 'rva23u64'],
  ppc64: ['power8', 'power9', 'power10'],
  ppc64le: ['power8', 'power9', 'power10'],
});

/** Platforms tsbuild builds and runs most often; named in the hint of an unknown platform. */
const COMMON = 'linux/amd64, linux/arm64, linux/arm/v7, linux/arm/v6, linux/386, linux/ppc64le, linux/s390x, linux/riscv64';

/** Returns the platform of this machine in OCI terms (`linux/amd64`, `linux/arm64`, …). */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  return architecture === 'arm' ? { os: 'linux', architecture, variant: 'v7' } : { os: 'linux', architecture };
}

/**
 * Returns the architecture and variant as containerd's `normalizeArch` spells them: x86_64/x86-64 → amd64,
 * i386 → 386, aarch64 → arm64 (8/v8.0 → v8, 9/v9.0 → v9), armhf → arm/v7, armel → arm/v6, arm/N → arm/vN.
 * An arm variant defaults to v7; amd64's v1 is the baseline and is dropped.
 */
function normalizeArch(arch: string, variant: string | undefined): { architecture: string; variant?: string } {
  switch (arch) {
    case 'i386': return { architecture: '386' };
    case 'x86_64': case 'x86-64': case 'amd64':
      return variant === undefined || variant === 'v1' ? { architecture: 'amd64' } : { architecture: 'amd64', variant };
    case 'aarch64': case 'arm64':
      if (variant === '8' || variant === 'v8.0') return { architecture: 'arm64', variant: 'v8' };
      if (variant === '9' || variant === '9.0' || variant === 'v9.0') return { architecture: 'arm64', variant: 'v9' };
      return variant === undefined ? { architecture: 'arm64' } : { architecture: 'arm64', variant };
    case 'armhf': return { architecture: 'arm', variant: 'v7' };
    case 'armel': return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (variant === undefined || variant === '7') return { architecture: 'arm', variant: 'v7' };
      return { architecture: 'arm', variant: /^[5-8]$/.test(variant) ? `v${variant}` : variant };
    default: return variant === undefined ? { architecture: arch } : { architecture: arch, variant };
  }
}

function unknownPlatform(s: string, why: string, hint: string): TsbuildError {
  return new TsbuildError('USAGE', `unknown platform ${JSON.stringify(s)}: ${why}`, { hint });
}

/**
 * Parses `os/arch[/variant]` (or one word: an OS or an architecture) the way containerd's `platforms.Parse` normalises it (lowercase; macos → darwin;
 * the architecture aliases of normalizeArch; arm64 gets variant v8 only when written), and rejects what it
 * would let through unchecked: an OS or architecture Go does not know, or a variant the architecture does not
 * have. Throws a USAGE TsbuildError naming the bad part and listing the valid values (callers add where the
 * value was written with withLocation); touches nothing else.
 */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.length === 1 && parts[0]) {
    // One word, as containerd reads it: an OS (this machine's architecture) or else an architecture (linux).
    const os = parts[0] === 'macos' ? 'darwin' : parts[0];
    if (KNOWN_OS.includes(os)) return { ...hostPlatform(), os };
    const n = normalizeArch(parts[0], undefined);
    if (KNOWN_ARCH.includes(n.architecture)) return { os: 'linux', ...n };
    throw unknownPlatform(s, 'unknown operating system or architecture', `use os/arch[/variant], e.g. ${COMMON}`);
  }
  const [rawOs, arch, variant] = parts;
  if (!rawOs || !arch || parts.length > 3 || (variant !== undefined && variant === '')) {
    throw new TsbuildError('USAGE', `invalid platform ${JSON.stringify(s)}`, { hint: `write os/arch[/variant], e.g. ${COMMON}` });
  }
  const os = rawOs === 'macos' ? 'darwin' : rawOs;
  if (!KNOWN_OS.includes(os)) throw unknownPlatform(s, `unknown operating system ${JSON.stringify(rawOs)}`, `use os/arch[/variant], e.g. ${COMMON}; known operating systems: ${KNOWN_OS.join(', ')}`);
  const n = normalizeArch(arch, variant);
  if (!KNOWN_ARCH.includes(n.architecture)) throw unknownPlatform(s, `unknown architecture ${JSON.stringify(arch)}`, `use os/arch[/variant], e.g. ${COMMON}; known architectures: ${KNOWN_ARCH.join(', ')}`);
  if (n.variant !== undefined) {
    const valid = KNOWN_VARIANTS[n.architecture] ?? [];
    if (!valid.includes(n.variant)) {
      throw unknownPlatform(s, `unknown variant ${JSON.stringify(variant)} of ${n.architecture}`, valid.length
        ? `${os}/${n.architecture} variants are ${valid.join(', ')} (or none)`
        : `${n.architecture} has no variants: write ${os}/${n.architecture}`);
    }
  }
  return n.variant !== undefined ? { os, architecture: n.architecture, variant: n.variant } : { os, architecture: n.architecture };
}

/** Formats a platform as `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? '/' + p.variant : ''}`;
}

/** True when `candidate` satisfies `want` (a missing variant matches any; arm64 v8 equals no variant). */
export function platformMatches(want: Platform, candidate: Platform | undefined): boolean {
  if (!candidate) return false;
  if (want.os !== candidate.os || want.architecture !== candidate.architecture) return false;
  const norm = (p: Platform) => (p.architecture === 'arm64' && p.variant === 'v8' ? undefined : p.variant);
  const wv = norm(want);
  return wv === undefined || wv === norm(candidate);
}
