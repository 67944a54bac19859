/**
 * Conformance cases of BuildKit's outline and targets tests (dockerfile_outline_test.go, dockerfile_targets_test.go):
 * nothing is built; the case's Dockerfile is outlined (or its targets listed) with the library, and the result is
 * compared with expect.json's `outline` / `targets` as JSON, only the fields the upstream test asserts (a field the
 * expectation leaves out is not compared; `""`, `false` and `0` also match an omitted field, Go's zero values;
 * arrays must have the expected length). `sources` must hold the Dockerfile. `subrequests` names requests that
 * `frontend.subrequests.describe` must list as type rpc with a version.
 */
import { readFileSync } from 'node:fs';
import { listTargets, outlineDockerfile, parseDockerfile, SUBREQUESTS } from '../../cli/api.js';

export interface SubrequestExpect {
  outline?: unknown;
  targets?: unknown;
  subrequests?: string[];
  target?: string;
  buildArgs?: Record<string, string>;
}

/** True when `exp` is a subrequest case (no build). */
export function isSubrequestCase(exp: SubrequestExpect): boolean {
  return exp.outline !== undefined || exp.targets !== undefined || exp.subrequests !== undefined;
}

/** Returns where `got` differs from `want` (only the fields `want` names). */
export function jsonSubsetDiff(want: unknown, got: unknown, path: string): string[] {
  if (got === undefined && (want === '' || want === false || want === 0)) return [];
  if (Array.isArray(want)) {
    if (!Array.isArray(got)) return [`${path}: ${JSON.stringify(got)}, expected an array of ${want.length}`];
    if (got.length !== want.length) return [`${path}: ${got.length} entries, expected ${want.length}: ${JSON.stringify(got)}`];
    return want.flatMap((w, i) => jsonSubsetDiff(w, got[i], `${path}[${i}]`));
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object') return [`${path}: ${JSON.stringify(got)}, expected an object`];
    return Object.entries(want).flatMap(([k, w]) => jsonSubsetDiff(w, (got as Record<string, unknown>)[k], `${path}.${k}`));
  }
  return want === got ? [] : [`${path}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`];
}

/** Answers the case's subrequest for `dockerfile` and returns what differs from the expectation. */
export function checkSubrequestCase(exp: SubrequestExpect, dockerfile: string): string[] {
  const out: string[] = [];
  for (const name of exp.subrequests ?? []) {
    const r = SUBREQUESTS.find((s) => s.name === name);
    if (!r) out.push(`subrequests.describe does not list ${name}`);
    else if (r.type !== 'rpc' || r.version === '') out.push(`${name}: type ${r.type}, version ${JSON.stringify(r.version)}`);
  }
  if (exp.outline === undefined && exp.targets === undefined) return out;
  const bytes = readFileSync(dockerfile);
  const ast = parseDockerfile(bytes);
  const checkSources = (sources: readonly string[] | undefined): void => {
    if (sources?.length !== 1 || !Buffer.from(sources[0]!, 'base64').equals(bytes)) out.push('sources: not the Dockerfile');
  };
  if (exp.outline !== undefined) {
    const o = outlineDockerfile(ast, {
      source: bytes, ...(exp.target !== undefined ? { target: exp.target } : {}), ...(exp.buildArgs ? { buildArgs: exp.buildArgs } : {}),
    });
    checkSources(o.sources);
    out.push(...jsonSubsetDiff(exp.outline, JSON.parse(JSON.stringify(o)), 'outline'));
  }
  if (exp.targets !== undefined) {
    const l = listTargets(ast, { source: bytes });
    checkSources(l.sources);
    out.push(...jsonSubsetDiff(exp.targets, JSON.parse(JSON.stringify(l)), 'targets'));
  }
  return out;
}
