/**
 * The pattern operators of `${…}` (`#`, `##`, `%`, `%%`, `/`, `//`) as BuildKit's lex.go applies them:
 * shell patterns (`*`, `?`, no brackets) matched with Go's regexp preferences, in linear time.
 */
import { LexError, MAX_EXPANSION_LENGTH, tooLong } from './limits.js';

const RBRACE = 0x7d;
const SLASH = 0x2f;

/** One token of a shell pattern: a literal code point, `?` (any but newline), or `*` (any run without newline). */
type PatternToken = number | 'any' | 'star';
const NEWLINE = 0x0a;

/**
 * Compiles a shell pattern (`*`, `?`, `\*`, `\?`, `\\`; no bracket expressions) into tokens, as BuildKit's
 * convertShellPatternToRegex reads it. `\}` and `\/` lose their backslash; any other escape is an error.
 */
function compilePattern(pattern: string): PatternToken[] {
  const cps = Array.from(pattern, (c) => c.codePointAt(0)!);
  const out: PatternToken[] = [];
  for (let i = 0; i < cps.length; i++) {
    const tok = cps[i]!;
    if (tok === 0x2a) out.push('star');
    else if (tok === 0x3f) out.push('any');
    else if (tok === 0x5c) {
      const nx = cps[i + 1];
      if (nx === RBRACE || nx === SLASH) continue;
      if (nx !== 0x2a && nx !== 0x3f && nx !== 0x5c) {
        throw new LexError(`invalid pattern (${pattern}) in substitution: invalid escape '\\${nx === undefined ? '' : String.fromCodePoint(nx)}'`);
      }
      out.push(nx);
      i++;
    } else out.push(tok);
  }
  return out;
}

/**
 * Finds the leftmost match of `tokens` in `text` (code points) starting at or after `from` (only at `from`
 * when `anchored`), with the preference order of a backtracking regex whose stars are all greedy or all
 * lazy (Go's regexp semantics), in O(text × pattern) time: a Pike VM, because a backtracking RegExp is
 * exponential on patterns like `*a*a*a*b` (BuildKit uses Go's linear-time regexp). Returns [start, end).
 */
function matchPattern(tokens: readonly PatternToken[], text: readonly number[], from: number, anchored: boolean, greedy: boolean): [number, number] | undefined {
  const m = tokens.length;
  let clist: { pc: number; start: number }[] = [];
  let matched: [number, number] | undefined;
  let seen = new Uint8Array(m + 1);
  const add = (list: { pc: number; start: number }[], pc: number, start: number): void => {
    // epsilon closure in priority order (a star either loops or moves on)
    for (;;) {
      if (seen[pc]) return;
      seen[pc] = 1;
      if (pc === m || tokens[pc] !== 'star') { list.push({ pc, start }); return; }
      if (greedy) { list.push({ pc, start }); pc++; continue; }
      add(list, pc + 1, start);
      list.push({ pc, start });
      return;
    }
  };
  for (let pos = from; pos <= text.length; pos++) {
    if (matched === undefined && (!anchored || pos === from)) add(clist, 0, pos);
    if (clist.length === 0) break;
    const nlist: { pc: number; start: number }[] = [];
    seen = new Uint8Array(m + 1);
    const c = pos < text.length ? text[pos]! : -1;
    for (const t of clist) {
      if (t.pc === m) { matched = [t.start, pos]; break; } // lower-priority threads are cut off
      if (c < 0) continue;
      const tok = tokens[t.pc]!;
      if (tok === 'star' || tok === 'any' ? c === NEWLINE : c !== tok) continue;
      add(nlist, tok === 'star' ? t.pc : t.pc + 1, t.start);
    }
    clist = nlist;
  }
  return matched;
}

/** Returns the string of code points text[a, b) (in slices: spreading a huge array overflows the call stack). */
function cpString(text: readonly number[], a = 0, b = text.length): string {
  let out = '';
  for (let i = a; i < b; i += 4096) out += String.fromCodePoint(...text.slice(i, Math.min(b, i + 4096)));
  return out;
}

function codePoints(s: string): number[] {
  return Array.from(s, (c) => c.codePointAt(0)!);
}

/** Returns `value` without its shortest (`greedy`: longest) prefix matching `pattern`, as `${V#p}` (`${V##p}`) does. */
export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const text = codePoints(value);
  const m = matchPattern(compilePattern(pattern), text, 0, true, greedy);
  return m === undefined ? value : cpString(text, m[1]);
}

/** Reverses a pattern by code points, keeping `\x` escapes in front of the character they escape. */
function reversePattern(pattern: string): string {
  const cps = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < cps.length; ) {
    if (cps[i] === '\\' && i !== cps.length - 1) {
      out.unshift(cps[i]!, cps[i + 1]!);
      i += 2;
    } else {
      out.unshift(cps[i]!);
      i++;
    }
  }
  return out.join('');
}

function reverseString(s: string): string {
  return Array.from(s).reverse().join('');
}

/** Returns `value` without its shortest (`greedy`: longest) suffix matching `pattern`, as `${V%p}` (`${V%%p}`) does. */
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/** Returns `value` with the first (`all`: every) match of `pattern` replaced, as `${V/p/r}` and `${V//p/r}` do. */
export function replacePattern(pattern: string, value: string, replacement: string, all: boolean): string {
  const tokens = compilePattern(pattern);
  if (all) return goReplaceAll(tokens, value, replacement);
  const text = codePoints(value);
  const m = matchPattern(tokens, text, 0, false, true);
  if (m === undefined) return value;
  return cpString(text, 0, m[0]) + replacement + cpString(text, m[1]);
}

/** Go's Regexp.ReplaceAllString: an empty match right after a previous match is skipped; `$` expands templates. */
function goReplaceAll(tokens: readonly PatternToken[], src: string, repl: string): string {
  const text = codePoints(src);
  let out = '';
  let last = 0; // end of the text already copied
  let prevMatchEnd = -1;
  let searchPos = 0;
  while (searchPos <= text.length) {
    const mt = matchPattern(tokens, text, searchPos, false, true);
    if (mt === undefined) break;
    const [start, end] = mt;
    if (!(end === start && start === prevMatchEnd)) {
      out += cpString(text, last, start) + goExpand(repl, cpString(text, start, end));
      if (out.length > MAX_EXPANSION_LENGTH) throw tooLong(MAX_EXPANSION_LENGTH, 'the replacement makes the value unreasonably long');
      last = end;
      prevMatchEnd = end;
    }
    searchPos = end > searchPos ? end : searchPos + 1;
  }
  return out + cpString(text, last);
}

/** Go's template expansion for a regexp with no groups: `$$` → `$`, `$0`/`${0}` → the match, other names → "". */
function goExpand(template: string, match: string): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '$') {
      out += c;
      continue;
    }
    const rest = template.slice(i + 1);
    if (rest.startsWith('$')) {
      out += '$';
      i++;
      continue;
    }
    const m = /^\{([A-Za-z0-9_]+)\}/.exec(rest) ?? /^([A-Za-z0-9_]+)/.exec(rest);
    if (m === null) {
      out += '$';
      continue;
    }
    const name = m[1]!;
    if (/^[0-9]+$/.test(name) && Number(name) === 0) out += match;
    i += m[0].length;
  }
  return out;
}
