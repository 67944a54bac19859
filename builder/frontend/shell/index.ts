/**
 * BuildKit's shell lexer (frontend/dockerfile/shell/lex.go semantics): variable expansion, quote removal
 * and word splitting for Dockerfile instruction arguments. Nothing else: no command substitution, no globbing.
 *
 * `$VAR ${VAR} ${VAR:-w} ${VAR-w} ${VAR:+w} ${VAR+w} ${VAR:?m} ${VAR?m} ${VAR#p} ${VAR##p} ${VAR%p} ${VAR%%p}
 * ${VAR/p/r} ${VAR//p/r}`, single quotes (fully literal), double quotes (escape only `"`, `$` and the escape
 * token), the escape token outside quotes (escapes any character; a trailing one is dropped).
 *
 * The scanner is lexer.ts (shared with the parser's heredoc scan), the pattern operators pattern.ts.
 */
import { DockerfileError } from '../errors.js';
import { lexWord, type LexOptions, type ShellEnv } from './lexer.js';
import { LexError } from './limits.js';

export type { LexOptions, ShellEnv } from './lexer.js';
export { MAX_EXPANSION_DEPTH, MAX_EXPANSION_LENGTH } from './limits.js';

export interface ExpandResult {
  /** The word expanded as one string (inner whitespace kept). */
  readonly value: string;
  /** The word expanded and split into fields (unquoted whitespace, including whitespace from variables, splits). */
  readonly words: readonly string[];
  /** Variable names that were referenced and set. */
  readonly referenced: ReadonlySet<string>;
  /** Variable names that were referenced but unset. */
  readonly unset: ReadonlySet<string>;
}

/** Expands `word` as one string (BuildKit's ProcessWord). Throws DockerfileError `EXPANSION` (no location). */
export function processWord(word: string, env: ShellEnv, o: LexOptions = {}): string {
  return expandWord(word, env, o).value;
}

/** Expands `word` and splits it into fields (BuildKit's ProcessWords), as for FROM, EXPOSE. */
export function processWords(word: string, env: ShellEnv, o: LexOptions = {}): string[] {
  return [...expandWord(word, env, o).words];
}

const WS_SPLIT = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;

/** Expands `word`, returning the single string, the fields, and which variables were used and unset. */
export function expandWord(word: string, env: ShellEnv, o: LexOptions = {}): ExpandResult {
  const esc = o.escapeToken ?? '\\';
  if (!word.includes('$') && !word.includes("'") && !word.includes('"') && !word.includes(esc)) {
    // nothing to expand or remove: the word itself, split on whitespace
    return { value: word, words: word.split(WS_SPLIT).filter((w) => w !== ''), referenced: new Set(), unset: new Set() };
  }
  try {
    return lexWord(word, env, o);
  } catch (e) {
    if (e instanceof LexError) {
      throw new DockerfileError('EXPANSION', `failed to process ${JSON.stringify(word)}: ${e.message}`, {
        hint: e.hint ?? 'fix the variable reference (quote a literal $ as \\$ or use single quotes)',
      });
    }
    throw e;
  }
}

/** Returns a ShellEnv from `NAME=value` strings (later entries override earlier ones; no `=` means empty). */
export function envFromList(list: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of list) {
    const i = e.indexOf('=');
    if (i < 0) m.set(e, '');
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}
