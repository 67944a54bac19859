/**
 * spdxProblems: checks a document against the SPDX 2.3 JSON schema vendored in fixtures/spdx (spdx/spdx-spec
 * schemas/spdx-schema.json at tag v2.3; draft-07, compiled with ajv), plus what the schema cannot say: SPDX ids
 * unique and made of letters, digits, `.` and `-`, every relationship naming an element of the document, and
 * DESCRIBES from the document.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { repoRoot } from './paths.js';

type Validator = ((doc: unknown) => boolean) & { errors?: unknown };
let compiled: Validator | undefined;

function validator(): Validator {
  if (compiled) return compiled;
  type AjvLike = { compile(s: object): Validator };
  const m = Ajv as unknown as { default?: new (o: object) => AjvLike } & (new (o: object) => AjvLike);
  const Ctor = m.default ?? m;
  const schema = JSON.parse(readFileSync(join(repoRoot(), 'fixtures', 'spdx', 'spdx-schema-2.3.json'), 'utf8')) as Record<string, unknown>;
  delete schema['$schema'];
  compiled = new Ctor({ strict: false, allErrors: true }).compile(schema);
  return compiled;
}

interface Doc { SPDXID: string; packages?: { SPDXID: string }[]; files?: { SPDXID: string }[];
  relationships?: { spdxElementId: string; relatedSpdxElement: string; relationshipType: string }[] }

/** Returns the list of problems (empty when `doc` is a valid SPDX 2.3 document). */
export function spdxProblems(doc: unknown): string[] {
  const v = validator();
  const problems: string[] = [];
  if (!v(doc)) problems.push(JSON.stringify(v.errors));
  const d = doc as Doc;
  const ids = [d.SPDXID, ...(d.packages ?? []).map((p) => p.SPDXID), ...(d.files ?? []).map((f) => f.SPDXID)];
  const seen = new Set<string>();
  for (const id of ids) {
    if (!/^SPDXRef-[A-Za-z0-9.-]+$/.test(id)) problems.push(`bad SPDX id ${id}`);
    if (seen.has(id)) problems.push(`duplicate SPDX id ${id}`);
    seen.add(id);
  }
  for (const r of d.relationships ?? []) {
    if (!seen.has(r.spdxElementId) || !seen.has(r.relatedSpdxElement)) problems.push(`relationship to an unknown element: ${JSON.stringify(r)}`);
  }
  if (!(d.relationships ?? []).some((r) => r.spdxElementId === 'SPDXRef-DOCUMENT' && r.relationshipType === 'DESCRIBES')) problems.push('no DESCRIBES relationship from SPDXRef-DOCUMENT');
  return problems;
}
