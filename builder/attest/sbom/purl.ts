/** Package URLs (purl-spec): `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`, each part percent-encoded. Pure. */

const enc = (s: string): string => encodeURIComponent(s);
/** Versions keep `+` and `:` (Debian's `1:2.3+dfsg`), as Syft's purls do; the rest is percent-encoded. */
const encVersion = (s: string): string => encodeURIComponent(s).replace(/%2B/g, '+').replace(/%3A/g, ':');

/**
 * Returns the purl for a package. `namespace` may hold several `/`-separated segments (each encoded); empty
 * qualifier values are dropped and the rest sorted by key, as the spec's canonical form wants.
 */
export function purl(type: string, namespace: string | undefined, name: string, version: string,
  qualifiers: Readonly<Record<string, string | undefined>> = {}): string {
  const ns = namespace ? `${namespace.split('/').filter((s) => s !== '').map(enc).join('/')}/` : '';
  const v = version === '' ? '' : `@${encVersion(version)}`;
  const q = Object.entries(qualifiers).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, val]) => `${k}=${enc(val)}`).join('&');
  return `pkg:${type}/${ns}${enc(name)}${v}${q === '' ? '' : `?${q}`}`;
}

/** The `distro` qualifier: `debian-12`, `alpine-3.19.1` (the ID alone when there is no VERSION_ID). */
export function distroQualifier(d: { id: string; versionId?: string | undefined } | undefined): string | undefined {
  if (!d) return undefined;
  return d.versionId ? `${d.id}-${d.versionId}` : d.id;
}
