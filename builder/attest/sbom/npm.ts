/**
 * npm packages: every installed package's manifest (`node_modules/NAME/package.json`,
 * `node_modules/@SCOPE/NAME/package.json`, at any depth) and every package-lock.json outside node_modules
 * (lockfileVersion 1: nested `dependencies`; 2 and 3: the `packages` map). A package found in several places
 * (the same name and version) is one package with every file that declared it.
 */
import { purl } from './purl.js';
import type { FoundPackage, ScanContext } from './model.js';
import type { TreeEntry } from './tree.js';

interface Manifest { name?: unknown; version?: unknown; license?: unknown; licenses?: unknown; homepage?: unknown; description?: unknown; author?: unknown }
interface LockDep { version?: unknown; license?: unknown; resolved?: unknown; dependencies?: Record<string, LockDep>; link?: unknown }

/** Returns the package URL for an npm name (`@scope/name` puts the scope in the namespace). */
export function npmPurl(name: string, version: string): string {
  const slash = name.startsWith('@') ? name.indexOf('/') : -1;
  return slash > 0 ? purl('npm', name.slice(0, slash), name.slice(slash + 1), version) : purl('npm', undefined, name, version);
}

/** Returns the license strings of a package.json `license`/`licenses` field (string, {type}, or an array of them). */
export function manifestLicenses(m: { license?: unknown; licenses?: unknown }): string[] {
  const one = (x: unknown): string | undefined =>
    typeof x === 'string' ? x : x && typeof x === 'object' && typeof (x as { type?: unknown }).type === 'string' ? (x as { type: string }).type : undefined;
  const all = [m.license, ...(Array.isArray(m.licenses) ? m.licenses : [m.licenses])].map(one).filter((s): s is string => !!s);
  return [...new Set(all)];
}

/** True when `path` is a package's own manifest: `…node_modules/NAME/package.json` or `…node_modules/@S/NAME/package.json`. */
function isInstalledManifest(path: string): boolean {
  const parts = path.split('/');
  const n = parts.length;
  if (parts[n - 1] !== 'package.json' || n < 3) return false;
  if (parts[n - 3] === 'node_modules' && !parts[n - 2]!.startsWith('@') && !parts[n - 2]!.startsWith('.')) return true;
  return n >= 4 && parts[n - 4] === 'node_modules' && parts[n - 3]!.startsWith('@');
}

export async function scanNpm(ctx: ScanContext): Promise<FoundPackage[]> {
  const byPurl = new Map<string, { pkg: FoundPackage; evidence: string[] }>();
  const add = (p: FoundPackage): void => {
    const have = byPurl.get(p.purl!);
    if (!have) { byPurl.set(p.purl!, { pkg: p, evidence: [...p.evidence] }); return; }
    for (const e of p.evidence) if (!have.evidence.includes(e)) have.evidence.push(e);
    if (have.pkg.licenses.length === 0 && p.licenses.length > 0) have.pkg = { ...have.pkg, licenses: p.licenses };
  };
  const files: TreeEntry[] = [];
  for (const e of ctx.tree.entries()) {
    if (e.type !== 'file') continue;
    if (isInstalledManifest(e.path)) files.push(e);
    else if ((e.path === 'package-lock.json' || e.path.endsWith('/package-lock.json')) && !e.path.split('/').includes('node_modules')) files.push(e);
  }
  for (const e of files) {
    const json = await readJson(ctx, e.path);
    if (!json) continue;
    if (e.path.endsWith('/package.json')) {
      const m = json as Manifest;
      if (typeof m.name !== 'string' || typeof m.version !== 'string' || m.name === '') continue;
      add(pkg(m.name, m.version, manifestLicenses(m), e.path, 'installed node module manifest file', {
        homepage: typeof m.homepage === 'string' ? m.homepage : undefined,
        description: typeof m.description === 'string' ? m.description : undefined,
      }));
    } else {
      for (const p of lockPackages(json, e.path)) add(p);
    }
  }
  return [...byPurl.values()].map(({ pkg: p, evidence }) => ({ ...p, evidence }));
}

function pkg(name: string, version: string, licenses: string[], path: string, what: string,
  extra: { homepage?: string | undefined; description?: string | undefined; downloadLocation?: string | undefined } = {}): FoundPackage {
  return {
    ecosystem: 'npm', name, version, purl: npmPurl(name, version), licenses, evidence: [path],
    sourceInfo: `acquired package info from ${what}: /${path}`, ...extra,
  };
}

/** Returns the packages a package-lock.json lists (not the root project; not links). */
function lockPackages(json: unknown, path: string): FoundPackage[] {
  const out: FoundPackage[] = [];
  const lock = json as { packages?: Record<string, LockDep & { name?: unknown }>; dependencies?: Record<string, LockDep> };
  const what = 'javascript npm package-lock.json';
  if (lock.packages && typeof lock.packages === 'object') {
    for (const [key, d] of Object.entries(lock.packages)) {
      if (key === '' || d.link === true || typeof d.version !== 'string') continue;
      const i = key.lastIndexOf('node_modules/');
      const name = typeof d.name === 'string' ? d.name : i >= 0 ? key.slice(i + 'node_modules/'.length) : undefined;
      if (!name) continue;
      out.push(pkg(name, d.version, manifestLicenses(d), path, what, typeof d.resolved === 'string' ? { downloadLocation: d.resolved } : {}));
    }
    return out;
  }
  const walk = (deps: Record<string, LockDep> | undefined): void => {
    for (const [name, d] of Object.entries(deps ?? {})) {
      if (typeof d.version === 'string' && !d.version.startsWith('file:')) {
        out.push(pkg(name, d.version, manifestLicenses(d), path, what, typeof d.resolved === 'string' ? { downloadLocation: d.resolved } : {}));
      }
      walk(d.dependencies);
    }
  };
  walk(lock.dependencies);
  return out;
}

async function readJson(ctx: ScanContext, path: string): Promise<unknown> {
  const bytes = await ctx.tree.readFile(path, 64 * 1024 * 1024);
  if (!bytes) return undefined;
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
    return v && typeof v === 'object' ? v : undefined;
  } catch {
    return undefined; // not JSON (a template, a broken file): no package, as Syft
  }
}
