/** Alpine packages: the apk database /lib/apk/db/installed (one paragraph of `X:value` lines per package). */
import { purl, distroQualifier } from './purl.js';
import type { FoundPackage, ScanContext } from './model.js';

const DB = 'lib/apk/db/installed';

/** Returns the packages of an apk `installed` file, each as its single-letter fields (first value of each). Pure. */
export function parseApkDb(text: string): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  let cur: Map<string, string> | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') { cur = undefined; continue; }
    const m = /^([A-Za-z]):(.*)$/.exec(line);
    if (!m) continue;
    if (!cur) out.push((cur = new Map()));
    if (!cur.has(m[1]!)) cur.set(m[1]!, m[2]!);
  }
  return out;
}

export async function scanApk(ctx: ScanContext): Promise<FoundPackage[]> {
  const bytes = await ctx.tree.readFile(DB);
  if (!bytes) return [];
  const out: FoundPackage[] = [];
  for (const p of parseApkDb(bytes.toString('utf8'))) {
    const name = p.get('P');
    const version = p.get('V');
    if (!name || version === undefined) continue;
    const license = p.get('L');
    out.push({
      ecosystem: 'apk', name, version,
      purl: purl('apk', ctx.distro?.id ?? 'alpine', name, version, { arch: p.get('A'), distro: distroQualifier(ctx.distro), upstream: p.get('o') }),
      licenses: license ? [license] : [],
      evidence: [DB],
      sourceInfo: `acquired package info from APK DB: /${DB}`,
      supplier: p.get('m') ? `Person: ${p.get('m')!}` : undefined,
      homepage: p.get('U'),
      description: p.get('T'),
    });
  }
  return out;
}
