/**
 * validateOci: checks a document against the OCI image-spec JSON schemas vendored in
 * fixtures/conformance/oci-image-spec-schemas (draft-04; loaded per fixtures/conformance/README.md §3:
 * ids stripped, every file registered under one base so the sibling $refs resolve). Also applies the checks
 * upstream does in code: sha256 digests are 64 lowercase hex, config Env entries are NAME=value.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { conformanceDir } from './paths.js';

export type OciKind = 'manifest' | 'index' | 'config' | 'layout' | 'descriptor';

const FILES: Record<OciKind, string> = {
  manifest: 'image-manifest-schema.json',
  index: 'image-index-schema.json',
  config: 'config-schema.json',
  layout: 'image-layout-schema.json',
  descriptor: 'content-descriptor.json',
};
const BASE = 'https://opencontainers.org/schema/';

function stripIds(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(stripIds);
  if (x && typeof x === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(x)) if (k !== 'id') out[k] = stripIds(v);
    return out;
  }
  return x;
}

type Validator = ((doc: unknown) => boolean) & { errors?: unknown };
let compiled: Map<OciKind, Validator> | undefined;

function validators(): Map<OciKind, Validator> {
  if (compiled) return compiled;
  type AjvLike = { addSchema(s: object, key: string): unknown; getSchema(key: string): unknown };
  const m04 = Ajv04 as unknown as { default?: new (o: object) => AjvLike } & (new (o: object) => AjvLike);
  const Ctor = m04.default ?? m04;
  const ajv = new Ctor({ strict: false, allErrors: true });
  const mf = addFormats as unknown as { default?: (a: AjvLike) => void } & ((a: AjvLike) => void);
  (mf.default ?? mf)(ajv);
  const dir = join(conformanceDir(), 'oci-image-spec-schemas');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const schema = stripIds(JSON.parse(readFileSync(join(dir, f), 'utf8'))) as Record<string, unknown>;
    delete schema['$schema'];
    ajv.addSchema(schema, BASE + f);
  }
  compiled = new Map();
  for (const [k, f] of Object.entries(FILES) as [OciKind, string][]) compiled.set(k, ajv.getSchema(BASE + f) as unknown as Validator);
  return compiled;
}

/** Returns the list of problems (empty when `doc` is valid). */
export function ociProblems(kind: OciKind, doc: unknown): string[] {
  const v = validators().get(kind)!;
  const problems: string[] = [];
  if (!v(doc)) problems.push(JSON.stringify(v.errors));
  const walk = (x: unknown, path: string): void => {
    if (Array.isArray(x)) x.forEach((y, i) => walk(y, `${path}[${i}]`));
    else if (x && typeof x === 'object') {
      for (const [k, y] of Object.entries(x)) {
        if (k === 'digest' && typeof y === 'string' && y.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(y)) problems.push(`${path}.digest is not 64 lowercase hex`);
        walk(y, `${path}.${k}`);
      }
    }
  };
  walk(doc, '$');
  if (kind === 'config') {
    const env = (doc as { config?: { Env?: unknown[] } }).config?.Env ?? [];
    for (const e of env) if (typeof e !== 'string' || !/^[^=]+=/.test(e)) problems.push(`Env entry ${JSON.stringify(e)} is not NAME=value`);
  }
  return problems;
}

/** Throws with every problem found unless `doc` is a valid OCI document of `kind`. */
export function validateOci(kind: OciKind, doc: unknown): void {
  const p = ociProblems(kind, doc);
  if (p.length) throw new Error(`invalid OCI ${kind}: ${p.join('; ')}`);
}
