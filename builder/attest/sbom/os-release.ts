/** The OS release (/etc/os-release, else /usr/lib/os-release) as the image's operating-system package. */
import type { Distro, FoundPackage, ScanContext } from './model.js';
import type { MergedTree } from './tree.js';

const PATHS = ['etc/os-release', 'usr/lib/os-release'];

/** Returns os-release's `KEY=value` pairs (shell-quoted values unquoted, comments skipped). Pure. */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (/^".*"$/.test(v)) v = v.slice(1, -1).replace(/\\([$"`\\])/g, '$1');
    else if (/^'.*'$/.test(v)) v = v.slice(1, -1);
    out.set(m[1]!, v);
  }
  return out;
}

/** Returns the distribution the tree's os-release names, or undefined when it has none (or no ID). */
export async function readDistro(tree: MergedTree): Promise<Distro | undefined> {
  for (const path of PATHS) {
    const bytes = await tree.readFile(path, 1024 * 1024);
    if (!bytes) continue;
    const kv = parseOsRelease(bytes.toString('utf8'));
    const id = kv.get('ID');
    if (!id) return undefined;
    return { id, versionId: kv.get('VERSION_ID'), prettyName: kv.get('PRETTY_NAME'), versionCodename: kv.get('VERSION_CODENAME'), path };
  }
  return undefined;
}

/** Returns the OS package (name = ID, version = VERSION_ID), evident by the os-release file. */
export async function scanOsRelease(ctx: ScanContext): Promise<FoundPackage[]> {
  const d = ctx.distro;
  if (!d) return [];
  return [{
    ecosystem: 'os', name: d.id, version: d.versionId ?? '', licenses: [], evidence: [d.path],
    sourceInfo: `acquired operating system info from /${d.path}`, purpose: 'OPERATING_SYSTEM',
    description: d.prettyName,
  }];
}
