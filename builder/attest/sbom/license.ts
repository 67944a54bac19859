/**
 * Declared licenses as SPDX license expressions: what a package manager writes (an SPDX expression, a Debian
 * copyright short name such as `GPL-2+`, or free text) becomes an expression of SPDX license list ids and
 * `LicenseRef-` ids; each LicenseRef is reported with the text it stands for, as Syft does
 * (hasExtractedLicensingInfos). Pure.
 */

/** SPDX license list ids that package metadata commonly declares (matched case-insensitively). */
const KNOWN = [
  '0BSD', 'AFL-2.1', 'AFL-3.0', 'AGPL-3.0-only', 'AGPL-3.0-or-later', 'Apache-1.1', 'Apache-2.0', 'APSL-2.0',
  'Artistic-1.0', 'Artistic-1.0-Perl', 'Artistic-2.0', 'Beerware', 'BlueOak-1.0.0', 'BSD-1-Clause', 'BSD-2-Clause',
  'BSD-3-Clause', 'BSD-4-Clause', 'BSL-1.0', 'bzip2-1.0.6', 'CC-BY-3.0', 'CC-BY-4.0', 'CC-BY-SA-3.0', 'CC-BY-SA-4.0',
  'CC0-1.0', 'CDDL-1.0', 'CDDL-1.1', 'curl', 'EPL-1.0', 'EPL-2.0', 'EUPL-1.2', 'FSFAP', 'FSFUL', 'FSFULLR',
  'GFDL-1.2-only', 'GFDL-1.2-or-later', 'GFDL-1.3-only', 'GFDL-1.3-or-later', 'GPL-1.0-only', 'GPL-1.0-or-later',
  'GPL-2.0-only', 'GPL-2.0-or-later', 'GPL-3.0-only', 'GPL-3.0-or-later', 'HPND', 'ICU', 'IJG', 'ISC', 'LGPL-2.0-only',
  'LGPL-2.0-or-later', 'LGPL-2.1-only', 'LGPL-2.1-or-later', 'LGPL-3.0-only', 'LGPL-3.0-or-later', 'Libpng',
  'libtiff', 'MirOS', 'MIT', 'MIT-0', 'MPL-1.1', 'MPL-2.0', 'NCSA', 'OFL-1.1', 'OpenSSL', 'PHP-3.01', 'PostgreSQL',
  'PSF-2.0', 'Python-2.0', 'Ruby', 'Sleepycat', 'TCL', 'Unicode-DFS-2016', 'Unlicense', 'UPL-1.0', 'Vim', 'W3C',
  'WTFPL', 'X11', 'Zlib', 'ZPL-2.1',
];
const BY_LOWER = new Map(KNOWN.map((k) => [k.toLowerCase(), k]));

/** Names package metadata uses for list licenses (Debian copyright short names, Python classifiers' words). */
const ALIASES: Readonly<Record<string, string>> = {
  expat: 'MIT', 'mit license': 'MIT', 'apache 2.0': 'Apache-2.0', 'apache-2': 'Apache-2.0', 'apache software license': 'Apache-2.0',
  'apache license 2.0': 'Apache-2.0', 'bsd-2': 'BSD-2-Clause', 'bsd-3': 'BSD-3-Clause', 'isc license': 'ISC', 'isc license (iscl)': 'ISC',
  'mozilla public license 2.0 (mpl 2.0)': 'MPL-2.0', 'python software foundation license': 'PSF-2.0', 'zlib/libpng': 'Zlib',
  'the unlicense (unlicense)': 'Unlicense', artistic: 'Artistic-1.0-Perl', 'artistic-1': 'Artistic-1.0-Perl',
  'bsl-1.0': 'BSL-1.0', 'boost software license 1.0 (bsl-1.0)': 'BSL-1.0', cc0: 'CC0-1.0', 'cc0-1': 'CC0-1.0',
  'mpl-2': 'MPL-2.0', 'zpl-2.1': 'ZPL-2.1', 'psf': 'PSF-2.0',
};

/** The SPDX id for one license name, or undefined when it is not on the (abridged) list. */
export function spdxId(name: string): string | undefined {
  const n = name.trim();
  const lower = n.toLowerCase();
  const direct = BY_LOWER.get(lower) ?? ALIASES[lower];
  if (direct) return direct;
  // Debian/FSF short names: GPL-2, GPL-2+, LGPL-2.1+, GFDL-1.3, AGPL-3 (and the deprecated SPDX GPL-2.0, GPL-2.0+).
  const m = /^(A?GPL|LGPL|GFDL)-?(\d)(?:\.(\d))?(\+|-or-later|-only)?$/i.exec(n);
  if (m) {
    const id = `${m[1]!.toUpperCase()}-${m[2]}.${m[3] ?? '0'}-${m[4] === '+' || m[4]?.toLowerCase() === '-or-later' ? 'or-later' : 'only'}`;
    return BY_LOWER.get(id.toLowerCase());
  }
  return undefined;
}

/** Returns a LicenseRef id for free text (letters, digits, `.` and `-` only, as SPDX requires). */
export function licenseRef(text: string): string {
  const s = text.trim().replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-+|-+$/g, '');
  return `LicenseRef-${s === '' ? 'unknown' : s.slice(0, 64)}`;
}

export interface LicenseExpression {
  /** The SPDX expression for licenseDeclared. */
  readonly expression: string;
  /** LicenseRef id → the text it stands for. */
  readonly refs: ReadonlyMap<string, string>;
}

/**
 * Returns the expression for one declared license string: an SPDX expression is kept (its ids normalised, an
 * unknown id becoming a LicenseRef), anything that does not parse as one becomes a single LicenseRef.
 */
export function toExpression(declared: string): LicenseExpression | undefined {
  const text = declared.trim();
  if (text === '' || /^(NOASSERTION|NONE|UNKNOWN)$/i.test(text)) return undefined;
  const refs = new Map<string, string>();
  const tokens = text.match(/\(|\)|[^\s()]+/g) ?? [];
  const out: string[] = [];
  let expectId = true;
  let depth = 0;
  let valid = tokens.length > 0;
  for (let i = 0; i < tokens.length && valid; i++) {
    const t = tokens[i]!;
    const op = t.toUpperCase();
    if (t === '(') { if (!expectId) valid = false; depth++; out.push(t); continue; }
    if (t === ')') { if (expectId || --depth < 0) valid = false; out.push(t); continue; }
    if (op === 'AND' || op === 'OR') { if (expectId) valid = false; expectId = true; out.push(op); continue; }
    if (op === 'WITH') {
      const ex = tokens[i + 1];
      if (expectId || !ex || !/^[A-Za-z0-9.+-]+$/.test(ex)) { valid = false; continue; }
      out.push('WITH', ex);
      i++;
      continue;
    }
    if (!expectId || !/^[A-Za-z0-9.+-]+$/.test(t)) { valid = false; continue; }
    const id = spdxId(t) ?? (/^LicenseRef-[A-Za-z0-9.-]+$/.test(t) ? t : undefined);
    if (id) out.push(id);
    else { const r = licenseRef(t); refs.set(r, t); out.push(r); }
    expectId = false;
  }
  if (valid && !expectId && depth === 0) return { expression: out.join(' ').replace(/\( /g, '(').replace(/ \)/g, ')'), refs };
  const id = spdxId(text);
  if (id) return { expression: id, refs: new Map() };
  const r = licenseRef(text);
  return { expression: r, refs: new Map([[r, text]]) };
}

/** Returns the conjunction (AND) of several declared licenses, duplicates dropped; undefined when none. */
export function combine(declared: readonly string[]): LicenseExpression | undefined {
  const parts: string[] = [];
  const refs = new Map<string, string>();
  for (const d of declared) {
    const e = toExpression(d);
    if (!e || parts.includes(e.expression)) continue;
    parts.push(e.expression);
    for (const [k, v] of e.refs) refs.set(k, v);
  }
  if (parts.length === 0) return undefined;
  if (parts.length === 1) return { expression: parts[0]!, refs };
  return { expression: parts.map((p) => (/\s(OR|AND|WITH)\s/.test(p) ? `(${p})` : p)).join(' AND '), refs };
}
