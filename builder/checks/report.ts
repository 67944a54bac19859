/** The warnings of one check run, and which rules fired (for `error=true`). */
import type { CheckConfig } from './config.js';
import { isEnabled } from './config.js';
import type { Rule } from './rules.js';

/** One build-check warning: the rule, BuildKit's description and URL, the detail line, and where. */
export interface CheckWarning {
  readonly ruleName: string;
  readonly description: string;
  /** BuildKit's documentation page (absent for InvalidBaseImagePlatform and tsbuild's own rules). */
  readonly url?: string;
  readonly detail: string;
  readonly location: { readonly file: string; readonly line: number; readonly endLine: number };
  /** For tsbuild's own rules: what to change. */
  readonly fix?: string;
  /** True for a rule BuildKit does not have. */
  readonly tsbuild?: boolean;
}

export interface Where {
  readonly line: number;
  readonly endLine: number;
}

/** Collects warnings in the order rules report them; a disabled rule reports nothing. */
export class Reporter {
  readonly warnings: CheckWarning[] = [];
  /** Rules that reported, first report first (BuildKit's CalledRules). */
  readonly fired: string[] = [];
  constructor(readonly file: string, readonly config: CheckConfig) {}

  report(cfg: CheckConfig, rule: Rule, at: Where, detail: string): void {
    if (!isEnabled(cfg, rule)) return;
    if (!this.fired.includes(rule.name)) this.fired.push(rule.name);
    this.warnings.push({
      ruleName: rule.name, description: rule.description, ...(rule.url !== undefined ? { url: rule.url } : {}), detail,
      location: { file: this.file, line: at.line, endLine: at.endLine },
      ...(rule.fix !== undefined ? { fix: rule.fix } : {}), ...(rule.tsbuild ? { tsbuild: true } : {}),
    });
  }
}

/** BuildKit's one-line form of a warning (LintFormatShort): `Rule: detail (line N)`. */
export function formatShort(w: CheckWarning): string {
  return `${w.ruleName}: ${w.detail}${w.location.line > 0 ? ` (line ${w.location.line})` : ''}`;
}
