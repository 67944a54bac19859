/**
 * The build-check half of the conformance runner (BuildKit's dockerfile_check_test.go): a case whose expect.json
 * has `warnings` is checked twice, as upstream's checkLinterWarnings does. The build's own warnings (the
 * progress stream: only the stages the target needs) must be exactly `warnings`; `checkDockerfile` (the lint
 * subrequest, `--call=check`: every stage) must give exactly `checkWarnings` (default: `warnings`) and fail with
 * `checkError` when given (else no error). Warnings are compared by rule, line and detail, sorted by line then
 * detail as upstream sorts them.
 */
import { checkDockerfile } from '../../builder/index.js';
import type { BuildEvent, Descriptor, LayerStore } from '../../layer-store/index.js';

export interface WarningExpect {
  ruleName: string;
  line: number;
  detail: string;
}

export interface CheckExpect {
  /** The build's check warnings (BuildKit's progress stream). */
  warnings?: WarningExpect[];
  /** What a check (`--call=check`) reports, when it differs from `warnings` (it checks every stage). */
  checkWarnings?: WarningExpect[];
  /** Substrings of the error a check reports (BuildKit's lint `buildError`); none: no error. */
  checkError?: string | string[];
  target?: string;
  buildArgs?: Record<string, string>;
}

/** Tags the upstream lint tests' other base names on the local busybox (e.g. `busybox:stable-musl`). */
export async function tagCheckBases(store: LayerStore): Promise<void> {
  const img = await store.image('busybox:latest');
  const d: Descriptor = img.descriptor;
  for (const name of ['busybox:stable-musl', 'busybox:stable']) await store.tag(name, d);
}

const key = (w: WarningExpect): string => `${String(w.line).padStart(6, '0')} ${w.detail} ${w.ruleName}`;

function compare(what: string, got: WarningExpect[], want: WarningExpect[]): string[] {
  const g = got.map(key).sort();
  const w = want.map(key).sort();
  if (JSON.stringify(g) === JSON.stringify(w)) return [];
  return [`${what}: got ${JSON.stringify(g)}, expected ${JSON.stringify(w)}`];
}

/** Returns what differs from the case's check expectations (empty: none). `events` are the build's. */
export async function checkExpectations(exp: CheckExpect, events: readonly BuildEvent[], context: string, dockerfile: string | undefined, store: LayerStore): Promise<string[]> {
  if (exp.warnings === undefined) return [];
  const built = events.flatMap((e) => (e.type === 'warning' && e.rule ? [{ ruleName: e.rule.name, line: e.location?.line ?? 0, detail: e.message }] : []));
  const out = compare('build warnings', built, exp.warnings);
  const r = await checkDockerfile({ context, dockerfile, buildArgs: exp.buildArgs, target: exp.target, store });
  out.push(...compare('check warnings', r.warnings.map((w) => ({ ruleName: w.ruleName, line: w.location.line, detail: w.detail })), exp.checkWarnings ?? exp.warnings));
  const text = r.error ? `${r.error.message}\n${(r.error as { hint?: string }).hint ?? ''}` : undefined;
  if (exp.checkError === undefined) {
    if (text !== undefined) out.push(`check error ${JSON.stringify(text)}, expected none`);
  } else {
    const missing = [exp.checkError].flat().filter((s) => !(text ?? '').includes(s));
    if (missing.length > 0) out.push(`check error ${JSON.stringify(text)} does not contain ${JSON.stringify(missing)}`);
  }
  return out;
}
