import type { Platform } from './model.js';
import { TsbuildError } from './errors.js';

const ARCH: Readonly<Record<string, string>> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** Returns the platform of this machine in OCI terms (`linux/amd64`, `linux/arm64`, …). */
export function hostPlatform(): Platform {
  const architecture = ARCH[process.arch] ?? process.arch;
  return architecture === 'arm' ? { os: 'linux', architecture, variant: 'v7' } : { os: 'linux', architecture };
}

/** Parses `os/arch[/variant]` (arm64 gets variant v8 only when written). */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  const [os, arch, variant] = parts;
  if (!os || !arch || parts.length > 3 || (variant !== undefined && variant === '')) {
    throw new TsbuildError('USAGE', `invalid platform ${JSON.stringify(s)}`, { hint: 'write os/arch[/variant], e.g. linux/amd64 or linux/arm/v7' });
  }
  const architecture = arch === 'x86_64' ? 'amd64' : arch === 'aarch64' ? 'arm64' : arch;
  const v = variant ?? (architecture === 'arm' ? 'v7' : undefined);
  return v ? { os, architecture, variant: v } : { os, architecture };
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
