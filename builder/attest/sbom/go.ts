/**
 * Go modules compiled into executables: every executable regular file whose embedded build info names
 * modules gives its main module, each dependency (the `=>` replacement when it has a version) and the
 * toolchain's standard library (`stdlib`, as Syft reports it). A binary built without modules (GOPATH mode,
 * as Debian builds them) gives its main package's import path, unversioned, and stdlib. A module in several
 * binaries is one package, evident by each of them.
 */
import { purl } from './purl.js';
import { readGoBuildInfo, type GoModule } from './go-buildinfo.js';
import { throwIfAborted } from '../../../layer-store/core/index.js';
import type { FoundPackage, ScanContext } from './model.js';

/** Returns the purl of a Go module path (its last element is the name, the rest the namespace). */
export function goPurl(path: string, version: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? purl('golang', undefined, path, version) : purl('golang', path.slice(0, i), path.slice(i + 1), version);
}

function effective(m: GoModule): GoModule {
  return m.replace && m.replace.version !== '' ? m.replace : m;
}

export async function scanGo(ctx: ScanContext): Promise<FoundPackage[]> {
  const byPurl = new Map<string, FoundPackage & { evidence: string[] }>();
  const add = (name: string, version: string, p: string, file: string, purpose: 'APPLICATION' | 'LIBRARY'): void => {
    const have = byPurl.get(p);
    if (have) { if (!have.evidence.includes(file)) have.evidence.push(file); return; }
    byPurl.set(p, {
      ecosystem: 'go', name, version, purl: p, licenses: [], evidence: [file], purpose,
      sourceInfo: `acquired package info from go module information: /${file}`,
    });
  };
  for (const e of ctx.tree.entries()) {
    if (e.type !== 'file' || (e.mode & 0o111) === 0 || e.size < 64) continue;
    throwIfAborted(ctx.signal);
    const bi = await readGoBuildInfo(e.abs).catch(() => undefined);
    if (!bi) continue;
    if (bi.main && bi.main.path !== '') {
      const m = effective(bi.main);
      add(bi.main.path, m.version, goPurl(bi.main.path, m.version), e.path, 'APPLICATION');
    } else if (bi.path) {
      // Built without modules (GOPATH mode, as Debian builds Go packages): only the main package's import path
      // is known, with no version and no dependency list.
      add(bi.path, '', goPurl(bi.path, ''), e.path, 'APPLICATION');
    } else continue;
    for (const d of bi.deps) {
      const m = effective(d);
      add(m.path, m.version, goPurl(m.path, m.version), e.path, 'LIBRARY');
    }
    const std = bi.goVersion.replace(/^go/, '').split(/\s/)[0]!;
    add('stdlib', bi.goVersion.split(/\s/)[0]!, purl('golang', undefined, 'stdlib', std), e.path, 'LIBRARY');
  }
  return [...byPurl.values()];
}
