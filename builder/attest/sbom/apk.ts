/** Alpine packages: the apk database /lib/apk/db/installed (one paragraph of `X:value` lines per package). */
import { purl, distroQualifier } from './purl.js';
import type { FoundPackage, ScanContext } from './model.js';

const DB = 'lib/apk/db/installed';

export interface ApkEntry {
  /** Each single-letter field's first value. */
  readonly fields: Map<string, string>;
  /** The files it installed (each R: under the F: before it), relative to the root. */
  readonly files: string[];
}

/** Returns the packages of an apk `installed` file. Pure. */
export function parseApkDb(text: string): ApkEntry[] {
  const out: ApkEntry[] = [];
  let cur: ApkEntry | undefined;
  let dir = '';
  for (const line of text.split('\n')) {
    if (line.trim() === '') { cur = undefined; continue; }
    const m = /^([A-Za-z]):(.*)$/.exec(line);
    if (!m) continue;
    if (!cur) { out.push((cur = { fields: new Map(), files: [] })); dir = ''; }
    const [, k, v] = m as unknown as [string, string, string];
    if (k === 'F') dir = v;
    else if (k === 'R') cur.files.push(dir === '' ? v : `${dir}/${v}`);
    if (!cur.fields.has(k)) cur.fields.set(k, v);
  }
  return out;
}

export async function scanApk(ctx: ScanContext): Promise<FoundPackage[]> {
  const bytes = await ctx.tree.readFile(DB);
  if (!bytes) return [];
  const out: FoundPackage[] = [];
  for (const { fields: p, files } of parseApkDb(bytes.toString('utf8'))) {
    const name = p.get('P');
    const version = p.get('V');
    if (!name || version === undefined) continue;
    const license = p.get('L');
    out.push({
      ecosystem: 'apk', name, version,
      purl: purl('apk', ctx.distro?.id ?? 'alpine', name, version, { arch: p.get('A'), distro: distroQualifier(ctx.distro), upstream: p.get('o') }),
      licenses: license ? [license] : [],
      evidence: [DB],
      owned: files,
      sourceInfo: `acquired package info from APK DB: /${DB}`,
      supplier: p.get('m') ? `Person: ${p.get('m')!}` : undefined,
      homepage: p.get('U'),
      description: p.get('T'),
    });
  }
  return out;
}
