/**
 * `--attest`, `--provenance` and `--sbom`, read as buildx reads them (commands/build.go, util/buildflags/attests.go):
 * `--provenance V` and `--sbom V` are `--attest type=provenance,V` / `type=sbom,V`, where a Go boolean V means
 * `disabled=!V`; each `--attest` is one CSV record of `KEY=VALUE` fields (`type` required, `disabled` a bool);
 * the shorthands come after the `--attest` values and the last value of a type wins. Unlike buildx, which passes
 * any attribute on to BuildKit, an unknown type or attribute is a USAGE error naming it. Pure.
 */
import { TsbuildError } from '../../layer-store/index.js';
import { splitCsv } from '../execute/output-spec.js';

/** What SLSA provenance to write (BuildKit's `attest:provenance` attributes, docs/attestations/slsa-provenance.md). */
export interface ProvenanceAttest {
  /** `min`: no build-arg or label values, no secrets or SSH ids; `max` (BuildKit's default when asked): those plus the Dockerfile and the steps. */
  readonly mode: 'min' | 'max';
  /** `builder-id`: runDetails.builder.id (default empty, as BuildKit). */
  readonly builderId?: string | undefined;
  /** `reproducible`: runDetails.metadata.tsbuild_reproducible. */
  readonly reproducible?: boolean | undefined;
  /** `inline-only`: only in images (not in `-o type=local|tar` files); the default provenance is inline-only. */
  readonly inlineOnly?: boolean | undefined;
  /** `filename`: the file name in `-o type=local|tar` outputs (default `provenance.json`). */
  readonly filename?: string | undefined;
}

/** What SBOM to write (BuildKit's `attest:sbom` attributes, docs/attestations/sbom.md). */
export interface SbomAttest {
  /** `scan-context`: also an SPDX document of the build context (default: the build arg BUILDKIT_SBOM_SCAN_CONTEXT). */
  readonly scanContext?: boolean | undefined;
  /** `scan-stage`: also one of every stage the target depends on (default: the build arg BUILDKIT_SBOM_SCAN_STAGE). */
  readonly scanStage?: boolean | undefined;
}

/** The attestations a build writes. */
export interface Attestations {
  /**
   * Provenance: undefined is buildx's default (mode=min, inline-only, attached to pushed images only, and to
   * multi-platform OCI archives as BuildKit's oci exporter does); `false` writes none (`--provenance=false`).
   */
  readonly provenance?: ProvenanceAttest | false | undefined;
  /** SBOM: undefined or false writes none. */
  readonly sbom?: SbomAttest | false | undefined;
  /** The default provenance (buildx's BUILDX_NO_DEFAULT_ATTESTATIONS=1 turns it off). Default true. */
  readonly defaultProvenance?: boolean | undefined;
}

/** The SBOM generator image BuildKit runs by default; naming it asks for tsbuild's own scanner, which stands in for it. */
export const DEFAULT_SBOM_GENERATOR = 'docker/buildkit-syft-scanner';

const BOOL_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const BOOL_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

/** Returns Go's strconv.ParseBool of `v`, or undefined when it is no boolean. */
export function parseGoBool(v: string): boolean | undefined {
  return BOOL_TRUE.includes(v) ? true : BOOL_FALSE.includes(v) ? false : undefined;
}

function usage(message: string, where: string, hint: string): TsbuildError {
  return new TsbuildError('USAGE', message, { location: { ref: where }, hint });
}

function bool(v: string, key: string, where: string): boolean {
  const b = parseGoBool(v);
  if (b === undefined) throw usage(`invalid value ${key}=${v}: not a boolean`, where, `write ${key}=true or ${key}=false`);
  return b;
}

/** Returns buildx's CanonicalizeAttest: `true`/`false` (any Go bool) → `type=T,disabled=!b`; else `type=T,VALUE`. */
export function canonicalAttest(type: 'provenance' | 'sbom', value: string): string {
  const b = parseGoBool(value);
  return b !== undefined ? `type=${type},disabled=${!b}` : `type=${type},${value}`;
}

interface RawAttest {
  readonly type: string;
  readonly disabled: boolean;
  readonly attrs: ReadonlyMap<string, string>;
  readonly where: string;
}

/** Returns one `--attest` record parsed (buildx's Attest.UnmarshalText). */
function parseRecord(spec: string, where: string): RawAttest {
  let type: string | undefined;
  let disabled = false;
  const attrs = new Map<string, string>();
  for (const field of splitCsv(spec, where)) {
    const i = field.indexOf('=');
    if (i < 0) throw usage(`invalid value ${field} in ${where}`, where, 'write KEY=VALUE fields, e.g. --attest type=provenance,mode=max');
    const key = field.slice(0, i).trim().toLowerCase();
    const value = field.slice(i + 1);
    if (key === 'type') type = value;
    else if (key === 'disabled') disabled = bool(value, 'disabled', where);
    else attrs.set(field.slice(0, i), value);
  }
  if (!type) throw usage(`attestation type not specified in ${where}`, where, 'write --attest type=provenance[,mode=min|max] or --attest type=sbom');
  return { type, disabled, attrs, where };
}

/** Returns the provenance attributes of `a`; an unknown attribute or value is a USAGE error naming it. */
function provenanceOf(a: RawAttest): ProvenanceAttest {
  let mode: 'min' | 'max' = 'max';
  let out: { -readonly [K in keyof ProvenanceAttest]: ProvenanceAttest[K] } = { mode };
  for (const [k, v] of a.attrs) {
    switch (k) {
      case 'mode':
        if (v !== 'min' && v !== 'max' && v !== 'full') throw usage(`invalid provenance mode ${JSON.stringify(v)} in ${a.where}`, a.where, 'write mode=min or mode=max');
        mode = v === 'full' ? 'max' : v;
        break;
      case 'builder-id': out.builderId = v; break;
      case 'reproducible': out.reproducible = bool(v, k, a.where); break;
      case 'inline-only': out.inlineOnly = bool(v, k, a.where); break;
      case 'filename': out.filename = v; break;
      case 'version':
        if (v !== 'v1') throw usage(`provenance version ${JSON.stringify(v)} is not supported (${a.where})`, a.where, 'tsbuild writes SLSA provenance v1 only: write version=v1 or leave it out');
        break;
      default:
        throw usage(`unknown provenance attribute ${JSON.stringify(k)} in ${a.where}`, a.where, 'known: mode, builder-id, reproducible, inline-only, filename, version');
    }
  }
  out = { ...out, mode };
  return out;
}

/** Returns the SBOM attributes of `a`; a generator image other than BuildKit's default scanner is refused. */
function sbomOf(a: RawAttest): SbomAttest {
  const out: { -readonly [K in keyof SbomAttest]: SbomAttest[K] } = {};
  for (const [k, v] of a.attrs) {
    switch (k) {
      case 'scan-context': out.scanContext = bool(v, k, a.where); break;
      case 'scan-stage': out.scanStage = bool(v, k, a.where); break;
      case 'generator': {
        const name = v.replace(/^docker\.io\//, '').replace(/[:@].*$/, '');
        if (name !== DEFAULT_SBOM_GENERATOR) {
          throw usage(`cannot run SBOM generator image ${v} (${a.where})`, a.where, `tsbuild scans images itself and runs no generator image: drop generator= (or name ${DEFAULT_SBOM_GENERATOR}, which its scanner stands in for)`);
        }
        break;
      }
      default:
        throw usage(`unknown sbom attribute ${JSON.stringify(k)} in ${a.where}`, a.where, 'known: generator, scan-context, scan-stage');
    }
  }
  return out;
}

/** The flag values `parseAttestFlags` reads. */
export interface AttestFlags {
  /** `--attest` values, in order. */
  readonly attest?: readonly string[] | undefined;
  /** `--provenance` (undefined: not given; `''`: given bare, read as `true`). */
  readonly provenance?: string | undefined;
  /** `--sbom` (undefined: not given; `''`: given bare, read as `true`). */
  readonly sbom?: string | undefined;
  /** `$BUILDX_NO_DEFAULT_ATTESTATIONS` (a Go bool; true turns the default provenance off). */
  readonly noDefaultAttestations?: string | undefined;
}

/**
 * Returns the attestations the flags ask for, as buildx merges them (the shorthands after `--attest`, the last
 * of a type winning); USAGE errors for an unknown type or attribute, a bad mode or boolean, a generator image.
 */
export function parseAttestFlags(f: AttestFlags): Attestations {
  const records: RawAttest[] = (f.attest ?? []).map((s) => parseRecord(s, `--attest ${s}`));
  if (f.provenance !== undefined) records.push(parseRecord(canonicalAttest('provenance', f.provenance === '' ? 'true' : f.provenance), `--provenance=${f.provenance}`));
  if (f.sbom !== undefined) records.push(parseRecord(canonicalAttest('sbom', f.sbom === '' ? 'true' : f.sbom), `--sbom=${f.sbom}`));
  let provenance: ProvenanceAttest | false | undefined;
  let sbom: SbomAttest | false | undefined;
  for (const r of records) {
    if (r.type === 'provenance') provenance = r.disabled ? false : provenanceOf(r);
    else if (r.type === 'sbom') sbom = r.disabled ? false : sbomOf(r);
    else throw usage(`unknown attestation type ${JSON.stringify(r.type)} in ${r.where}`, r.where, 'write type=provenance or type=sbom');
  }
  let defaultProvenance = true;
  if (f.noDefaultAttestations !== undefined) {
    const b = parseGoBool(f.noDefaultAttestations);
    if (b === undefined) throw usage(`invalid BUILDX_NO_DEFAULT_ATTESTATIONS ${JSON.stringify(f.noDefaultAttestations)}`, 'BUILDX_NO_DEFAULT_ATTESTATIONS', 'set it to 1 or 0 (true or false)');
    defaultProvenance = !b;
  }
  return {
    ...(provenance !== undefined ? { provenance } : {}),
    ...(sbom !== undefined ? { sbom } : {}),
    ...(defaultProvenance ? {} : { defaultProvenance: false }),
  };
}

/** True when an attestation was asked for explicitly (buildx's `len(attests) > 0`: not the default provenance). */
export function hasExplicitAttestations(a: Attestations | undefined): boolean {
  return !!a && (!!a.provenance || !!a.sbom);
}
