/**
 * What checks run: BuildKit's check options (`# check=skip=A,B|all;error=true;experimental=C|all`, the same text
 * in the `BUILDKIT_DOCKERFILE_CHECK` build arg, which replaces the directive), and the per-instruction
 * `# check=…` comments that add to them for one instruction (linter.go ParseLintOptions, WithMergedConfigFromComments).
 */
import { TsbuildError } from '../../layer-store/core/index.js';
import { RULES, type Rule } from './rules.js';

export interface CheckConfig {
  readonly skipAll: boolean;
  readonly skip: ReadonlySet<string>;
  readonly experimentalAll: boolean;
  readonly experimental: ReadonlySet<string>;
  /** `error=true`: a build with warnings fails. */
  readonly error: boolean;
}

export const DEFAULT_CONFIG: CheckConfig = { skipAll: false, skip: new Set(), experimentalAll: false, experimental: new Set(), error: false };

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

function names(v: string): string[] {
  return v.split(',').map((s) => s.trim());
}

/**
 * Parses check options as BuildKit does: up to three `;`-separated `key=value` parts, keys `skip`, `experimental`
 * (a list of rule names, or `all`) and `error` (a Go boolean). Throws TsbuildError DOCKERFILE_CHECK naming the
 * bad part, in BuildKit's words (`invalid check option "x"`).
 */
export function parseCheckOptions(text: string, where = 'check'): CheckConfig {
  const s = text.trim();
  if (s === '') return DEFAULT_CONFIG;
  // strings.SplitN(s, ";", 3): the third part keeps any further ';'
  const parts: string[] = [];
  let rest = s;
  while (parts.length < 2) {
    const i = rest.indexOf(';');
    if (i < 0) break;
    parts.push(rest.slice(0, i));
    rest = rest.slice(i + 1);
  }
  parts.push(rest);
  let skipAll = false;
  let experimentalAll = false;
  let error = false;
  let skip: string[] = [];
  let experimental: string[] = [];
  const hint = 'write check options as skip=RULE,RULE|all;error=true|false;experimental=RULE|all';
  for (const p of parts) {
    const i = p.indexOf('=');
    if (i < 0) throw new TsbuildError('DOCKERFILE_CHECK', `invalid check option ${JSON.stringify(p)}`, { location: { ref: where }, hint });
    const k = p.slice(0, i).trim();
    const v = p.slice(i + 1).trim();
    switch (k) {
      case 'skip':
        if (v === 'all') skipAll = true;
        else skip = names(v);
        break;
      case 'experimental':
        if (v === 'all') experimentalAll = true;
        else experimental = names(v);
        break;
      case 'error':
        if (GO_TRUE.has(v)) error = true;
        else if (GO_FALSE.has(v)) error = false;
        else throw new TsbuildError('DOCKERFILE_CHECK', `failed to parse check option ${JSON.stringify(p)}: invalid syntax`, { location: { ref: where }, hint: 'write error=true or error=false' });
        break;
      default:
        throw new TsbuildError('DOCKERFILE_CHECK', `invalid check option ${JSON.stringify(k)}`, { location: { ref: where }, hint });
    }
  }
  return { skipAll, skip: new Set(skip), experimentalAll, experimental: new Set(experimental), error };
}

/** `base` with `more` added (WithMergedConfig): skips and experimental rules accumulate; `error` stays `base`'s. */
export function mergeConfig(base: CheckConfig, more: CheckConfig): CheckConfig {
  return {
    skipAll: base.skipAll || more.skipAll,
    skip: more.skip.size > 0 ? new Set([...base.skip, ...more.skip]) : base.skip,
    experimentalAll: base.experimentalAll || more.experimentalAll,
    experimental: more.experimental.size > 0 ? new Set([...base.experimental, ...more.experimental]) : base.experimental,
    error: base.error,
  };
}

const COMMENT_DIRECTIVE = /^[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/s;

/**
 * `base` merged with the first `check=…` among an instruction's comments (text after `#`); the value ends at
 * the first space, so `# check=skip=all // why` works. A comment that does not parse leaves `base` unchanged.
 */
export function withComments(base: CheckConfig, comments: readonly string[] | undefined): CheckConfig {
  for (const c of comments ?? []) {
    const m = COMMENT_DIRECTIVE.exec(c);
    if (!m || m[1]!.toLowerCase() !== 'check') continue;
    const v = m[2]!.split(' ')[0]!;
    try {
      return mergeConfig(base, parseCheckOptions(v));
    } catch {
      return base;
    }
  }
  return base;
}

/** True when `rule` runs under `c`: an experimental rule only when enabled (skip does not apply to it), others unless skipped. */
export function isEnabled(c: CheckConfig, rule: Rule): boolean {
  if (rule.experimental) return c.experimentalAll || c.experimental.has(rule.name);
  return !(c.skipAll || c.skip.has(rule.name));
}

/** The rule registry as a name → rule map (for lookups by name). */
export const RULE_BY_NAME: ReadonlyMap<string, Rule> = new Map(Object.values(RULES).map((r) => [r.name, r]));
