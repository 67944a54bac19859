/**
 * Debian packages: the dpkg database (/var/lib/dpkg/status) and distroless's one-file-per-package
 * /var/lib/dpkg/status.d/*. Licenses come from each package's machine-readable copyright file
 * (/usr/share/doc/PKG/copyright, `License:` lines), as Syft reads them, and the files each installed from
 * /var/lib/dpkg/info/PKG[:ARCH].list.
 */
import { purl, distroQualifier } from './purl.js';
import type { FoundPackage, ScanContext } from './model.js';

const STATUS = 'var/lib/dpkg/status';
const STATUS_D = 'var/lib/dpkg/status.d';
/** dpkg's "not installed" states: `dpkg-query -W` lists these too, but nothing of them is in the image. */
const GONE = new Set(['not-installed', 'config-files']);

/** Returns the paragraphs of a deb822 control file (field names as written; continuation lines joined with \n). Pure. */
export function parseControl(text: string): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  let cur: Map<string, string> | undefined;
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') { cur = undefined; last = undefined; continue; }
    if ((line.startsWith(' ') || line.startsWith('\t')) && cur && last) {
      cur.set(last, `${cur.get(last)!}\n${line.slice(1)}`);
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    if (!cur) out.push((cur = new Map()));
    last = line.slice(0, i);
    cur.set(last, line.slice(i + 1).trim());
  }
  return out;
}

/** Returns the license names of a DEP-5 copyright file (the first line of each `License:` field, a short name or an expression of them), in order. Pure. */
export function copyrightLicenses(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^License:[ \t]*(\S[^\n]*)$/gm)) {
    const name = m[1]!.trim().replace(/[.,;]$/, '');
    if (name !== '' && !out.includes(name)) out.push(name);
  }
  return out;
}

export async function scanDpkg(ctx: ScanContext): Promise<FoundPackage[]> {
  const { tree } = ctx;
  const sources: string[] = [];
  if ((await tree.resolve(STATUS))?.type === 'file') sources.push(STATUS);
  const dir = await tree.resolve(STATUS_D);
  if (dir?.type === 'dir') {
    for (const e of tree.list(dir.path)) if (!e.path.endsWith('.md5sums') && (await tree.resolve(e.path))?.type === 'file') sources.push(e.path);
  }
  const out: FoundPackage[] = [];
  for (const src of sources) {
    const text = (await tree.readFile(src))?.toString('utf8') ?? '';
    for (const p of parseControl(text)) {
      const name = p.get('Package');
      const version = p.get('Version');
      if (!name || version === undefined) continue;
      const state = (p.get('Status') ?? 'install ok installed').split(/\s+/)[2] ?? 'installed';
      if (GONE.has(state)) continue;
      const arch = p.get('Architecture');
      const source = p.get('Source');
      const copyright = await tree.readFile(`usr/share/doc/${name}/copyright`, 4 * 1024 * 1024);
      const list = src === STATUS
        ? (await tree.readFile(`var/lib/dpkg/info/${name}:${arch ?? ''}.list`)) ?? (await tree.readFile(`var/lib/dpkg/info/${name}.list`))
        : undefined;
      const upstream = source ? source.replace(/\s*\((.*)\)$/, '@$1') : undefined;
      out.push({
        ecosystem: 'deb', name, version,
        purl: purl('deb', ctx.distro?.id ?? 'debian', name, version, { arch, distro: distroQualifier(ctx.distro), upstream }),
        licenses: copyright ? copyrightLicenses(copyright.toString('utf8')) : [],
        evidence: [src],
        owned: list ? list.toString('utf8').split('\n').map((l) => l.replace(/^\/+/, '')).filter((l) => l !== '' && l !== '.') : [],
        sourceInfo: `acquired package info from DPKG DB: /${src}`,
        supplier: p.get('Maintainer') ? `Person: ${p.get('Maintainer')!}` : undefined,
        homepage: p.get('Homepage'),
        description: p.get('Description')?.split('\n')[0],
      });
    }
  }
  return out;
}
