/**
 * Python distributions: `*.dist-info/METADATA` (wheels, pip) and `*.egg-info/PKG-INFO` or a `*.egg-info` file
 * (setuptools), wherever they are (site-packages, dist-packages, a venv). The license is License-Expression
 * (PEP 639), else a one-line License field, else the `License ::` classifiers.
 */
import { purl } from './purl.js';
import type { FoundPackage, ScanContext } from './model.js';

/** Returns the header fields of a core-metadata file (RFC 822 style; repeated fields in order). Pure. */
export function parseMetadata(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let last: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break; // the body (the long description) follows the first blank line
    if ((line.startsWith(' ') || line.startsWith('\t')) && last && last.length > 0) {
      last[last.length - 1] += `\n${line.trim()}`;
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const k = line.slice(0, i).toLowerCase();
    let vs = out.get(k);
    if (!vs) out.set(k, (vs = []));
    vs.push(line.slice(i + 1).trim());
    last = vs;
  }
  return out;
}

/** Returns the pypi purl name: lower case, runs of `-_.` as one `-` (PEP 503). */
export function pypiName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** Returns the declared licenses of parsed metadata (see the module comment for the order). */
export function metadataLicenses(m: Map<string, string[]>): string[] {
  const expr = m.get('license-expression')?.[0];
  if (expr) return [expr];
  const lic = m.get('license')?.[0];
  if (lic && !lic.includes('\n') && lic.length <= 80 && !/^unknown$/i.test(lic)) return [lic];
  const fromClassifiers = (m.get('classifier') ?? []).filter((c) => c.startsWith('License ::'))
    .map((c) => c.split('::').map((s) => s.trim()).at(-1)!).filter((c) => c !== 'OSI Approved');
  return [...new Set(fromClassifiers)];
}

export async function scanPython(ctx: ScanContext): Promise<FoundPackage[]> {
  const candidates: { path: string; kind: string }[] = [];
  for (const e of ctx.tree.entries()) {
    const base = e.path.slice(e.path.lastIndexOf('/') + 1);
    if (e.type === 'file' && base === 'METADATA' && e.path.endsWith('.dist-info/METADATA')) candidates.push({ path: e.path, kind: 'installed python package manifest file' });
    else if (e.type === 'file' && base === 'PKG-INFO' && e.path.endsWith('.egg-info/PKG-INFO')) candidates.push({ path: e.path, kind: 'installed python package manifest file' });
    else if (e.type === 'file' && base.endsWith('.egg-info')) candidates.push({ path: e.path, kind: 'installed python package manifest file' });
  }
  const out: FoundPackage[] = [];
  for (const c of candidates) {
    const bytes = await ctx.tree.readFile(c.path, 16 * 1024 * 1024);
    if (!bytes) continue;
    const m = parseMetadata(bytes.toString('utf8'));
    const name = m.get('name')?.[0];
    const version = m.get('version')?.[0];
    if (!name || version === undefined) continue;
    const author = m.get('author')?.[0];
    out.push({
      ecosystem: 'python', name, version, purl: purl('pypi', undefined, pypiName(name), version),
      licenses: metadataLicenses(m), evidence: [c.path], sourceInfo: `acquired package info from ${c.kind}: /${c.path}`,
      homepage: m.get('home-page')?.[0], description: m.get('summary')?.[0],
      supplier: author && author !== 'UNKNOWN' ? `Person: ${author}` : undefined,
    });
  }
  return out;
}
