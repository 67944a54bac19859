/**
 * `tsbuild build --call=NAME[,format=json][,ignorestatus=true]` (buildx's `--call`; `--check` is `--call=check`)
 * and the build-check output: the check report (buildx printResult for `lint`, BuildKit's lint.LintResults
 * JSON) and the warnings a build prints at its end (buildx printWarnings).
 *
 * Adding a call: put its name in CALLS and a case in runCall's switch.
 */
import { TsbuildError } from '../../layer-store/core/index.js';
import { checkDockerfile, formatShort, type CheckDockerfileOptions, type CheckDockerfileResult, type CheckWarning } from '../../builder/build-command.js';
import type { BuildEvent } from '../../layer-store/core/index.js';

/** The `--call` values tsbuild knows; `build` (the default) builds. */
export const CALLS = ['build', 'check', 'outline', 'targets', 'subrequests.describe'] as const;

export interface CallSpec {
  /** `check` (buildx also spells it `lint`), …; never `build`. */
  readonly name: string;
  readonly format: 'text' | 'json';
  readonly ignoreStatus: boolean;
}

const GO_BOOL: Record<string, boolean> = { 1: true, t: true, T: true, TRUE: true, true: true, True: true, 0: false, f: false, F: false, FALSE: false, false: false, False: false };

/**
 * Returns the call `--call VALUE` (and `--check`) ask for, or undefined for a build. Throws a USAGE error
 * naming an unknown call, field or format, as buildx's ParseCallFunc (fields: a name, `format=`, `ignorestatus=`).
 */
export function parseCall(value: string | undefined, check: boolean): CallSpec | undefined {
  const v = check ? (value && value !== 'build' ? value : 'check') : value;
  if (v === undefined || v === '') return undefined;
  let name = '';
  let format: CallSpec['format'] = 'text';
  let ignoreStatus = false;
  for (const field of v.split(',').map((f) => f.trim()).filter(Boolean)) {
    const i = field.indexOf('=');
    if (i < 0) {
      if (name !== '') throw usage(`invalid --call value ${JSON.stringify(v)}: two call names`);
      name = field;
      continue;
    }
    const k = field.slice(0, i);
    const val = field.slice(i + 1);
    if (k === 'format') {
      if (val !== 'json' && val !== 'text') throw usage(`unknown --call format ${JSON.stringify(val)}`, 'use format=json or format=text');
      format = val;
    } else if (k === 'ignorestatus') {
      const b = GO_BOOL[val];
      if (b === undefined) throw usage(`invalid ignorestatus print value: ${val}`, 'use ignorestatus=true or ignorestatus=false');
      ignoreStatus = b;
    } else {
      throw usage(`invalid --call field: ${field}`, 'a --call value is a name with optional format=json and ignorestatus=true');
    }
  }
  if (name === 'lint') name = 'check';
  if (name === '' || name === 'build') {
    if (check) name = 'check';
    else return undefined;
  }
  if (!(CALLS as readonly string[]).includes(name)) {
    throw usage(`unknown --call value ${JSON.stringify(name)}`, `use one of ${CALLS.join(', ')}`);
  }
  return { name, format, ignoreStatus };
}

function usage(message: string, hint = `use --call=${CALLS.join('|')}[,format=json]`): TsbuildError {
  return new TsbuildError('USAGE', message, { location: { ref: '--call' }, hint });
}

/** BuildKit's errdefs Source.Print: `file:line`, a rule, the lines around the range (`>>>` on its lines), a rule. */
export function sourceSnippet(file: string, source: string, line: number, endLine = line): string {
  const lines = source.split('\n');
  let start = line;
  let end = Math.min(endLine, lines.length);
  if (start < 1 || start > lines.length) return '';
  const pad = end === start ? 4 : 2;
  for (let p = 0; p < pad;) {
    if (start > 1) { start--; p++; }
    if (end !== lines.length) { end++; p++; }
    p++;
  }
  const out = [`${file}:${line}`, '--------------------'];
  for (let i = start; i <= end; i++) {
    out.push(` ${String(i).padStart(3)} | ${i >= line && i <= endLine ? '>>>' : '   '} ${lines[i - 1]}`);
  }
  out.push('--------------------');
  return out.join('\n') + '\n';
}

/** The warnings sorted as BuildKit prints them (by line; stable otherwise). */
function byLine(ws: readonly CheckWarning[]): CheckWarning[] {
  return [...ws].sort((a, b) => a.location.line - b.location.line);
}

/**
 * BuildKit's lint.LintResults JSON (the `result.json` buildx prints for `--call=check,format=json`): warnings
 * with ruleName, description, url, detail and a protobuf Location (zero fields left out, as Go's omitempty), the
 * source, and `buildError` when the build would fail.
 */
export function lintResultsJson(r: CheckDockerfileResult): string {
  const loc = (line: number, endLine: number) => ({ ranges: [{ start: { line }, end: { line: endLine } }] });
  const out: Record<string, unknown> = {
    warnings: r.warnings.map((w) => ({
      ruleName: w.ruleName, description: w.description, ...(w.url !== undefined ? { url: w.url } : {}), detail: w.detail,
      location: loc(w.location.line, w.location.endLine),
    })),
    sources: [{ filename: r.file, language: 'Dockerfile', data: Buffer.from(r.source).toString('base64') }],
  };
  if (r.error) {
    const l = TsbuildError.is(r.error) && r.error.location && 'line' in r.error.location ? r.error.location : undefined;
    out.buildError = { message: r.error.message, location: l ? loc(l.line, l.endLine ?? l.line) : {} };
  }
  return JSON.stringify(out, null, 2);
}

/** buildx's text report: `Check complete, …`, then each warning with its rule, URL, detail and source lines. */
export function lintResultsText(r: CheckDockerfileResult): string {
  const n = r.warnings.length;
  let s = '';
  if (n > 0) s += `Check complete, ${n === 1 ? '1 warning has been found!' : `${n} warnings have been found!`}\n`;
  for (const w of byLine(r.warnings)) {
    s += `\nWARNING: ${w.ruleName}${w.url ? ` - ${w.url}` : ''}\n${w.detail}\n`;
    if (w.fix) s += `Fix: ${w.fix}\n`;
    s += sourceSnippet(w.location.file, r.source, w.location.line, w.location.endLine);
  }
  if (!r.error && n === 0) s += 'Check complete, no warnings found.\n';
  return s;
}

/**
 * Prints a check result to stdout (text or JSON) and returns the exit status buildx gives it: 1 when there are
 * warnings (unless ignorestatus); a build error is thrown (after the report and, as text, its source lines).
 */
export function printCheckResult(r: CheckDockerfileResult, call: CallSpec, out: NodeJS.WritableStream = process.stdout): number {
  if (call.format === 'json') {
    out.write(lintResultsJson(r) + '\n');
  } else {
    out.write(lintResultsText(r));
  }
  if (r.error) {
    if (call.format !== 'json') {
      const l = TsbuildError.is(r.error) && r.error.location && 'line' in r.error.location ? r.error.location : undefined;
      out.write(`${r.warnings.length > 0 ? '\n' : ''}${r.error.message}\n${l ? sourceSnippet(l.file, r.source, l.line, l.endLine ?? l.line) : ''}`);
    }
    throw r.error; // buildx returns the build error whatever ignorestatus says
  }
  return r.warnings.length > 0 && !call.ignoreStatus ? 1 : 0;
}

/**
 * buildx's printWarnings, at the end of a build (also a failed one): ` N warnings found (use --debug to expand):`
 * and one ` - Rule: detail (line N)` each; with `debug`, the description, URL and source lines too.
 */
export function formatBuildWarnings(ws: readonly CheckWarning[], debug: boolean, sources: ReadonlyMap<string, string> = new Map()): string {
  if (ws.length === 0) return '';
  let s = `\n ${ws.length === 1 ? '1 warning found' : `${ws.length} warnings found`}${debug ? '' : ' (use --debug to expand)'}:\n`;
  for (const w of ws) {
    // BuildKit's short form ends "(line N)"; tsbuild names the file too: "(Dockerfile:N)".
    s += ` - ${formatShort(w).replace(/ \(line \d+\)$/, '')} (${w.location.file}:${w.location.line})\n`;
    if (!debug) continue;
    s += `${w.description}\n`;
    if (w.url) s += `More info: ${w.url}\n`;
    if (w.fix) s += `Fix: ${w.fix}\n`;
    const src = sources.get(w.location.file);
    if (src !== undefined) s += sourceSnippet(w.location.file, src, w.location.line, w.location.endLine);
    s += '\n';
  }
  return s;
}

/** Runs a `--call` other than build and returns the exit status. */
export async function runCall(call: CallSpec, o: CheckDockerfileOptions): Promise<number> {
  switch (call.name) {
    case 'check':
      return printCheckResult(await checkDockerfile(o), call);
    default:
      throw usage(`unknown --call value ${JSON.stringify(call.name)}`, `use one of ${CALLS.join(', ')}`);
  }
}

/** The check warning a `warning` event with a rule carries (undefined for other events). */
export function checkWarningOf(e: BuildEvent): CheckWarning | undefined {
  if (e.type !== 'warning' || !e.rule) return undefined;
  const line = e.location?.line ?? 0;
  return {
    ruleName: e.rule.name, description: e.rule.description, ...(e.rule.url !== undefined ? { url: e.rule.url } : {}), detail: e.message,
    location: { file: e.location?.file ?? 'Dockerfile', line, endLine: line },
  };
}
