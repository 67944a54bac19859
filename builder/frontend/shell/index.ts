/**
 * BuildKit's shell lexer (frontend/dockerfile/shell/lex.go semantics): variable expansion, quote removal
 * and word splitting for Dockerfile instruction arguments. Nothing else: no command substitution, no globbing.
 *
 * `$VAR ${VAR} ${VAR:-w} ${VAR-w} ${VAR:+w} ${VAR+w} ${VAR:?m} ${VAR?m} ${VAR#p} ${VAR##p} ${VAR%p} ${VAR%%p}
 * ${VAR/p/r} ${VAR//p/r}`, single quotes (fully literal), double quotes (escape only `"`, `$` and the escape
 * token), the escape token outside quotes (escapes any character; a trailing one is dropped).
 */
import { DockerfileError } from '../errors.js';

import type { EscapeToken } from '../parser/index.js';

/** Variables visible to an expansion. A Map keeps insertion order; a plain record is read with own keys only. */
export type ShellEnv = ReadonlyMap<string, string> | Readonly<Record<string, string>>;

export interface LexOptions {
  /** `\` (default) or `` ` `` (the `# escape=` directive). */
  readonly escapeToken?: EscapeToken;
  /** Keep the quote characters in the output (BuildKit's RawQuotes). */
  readonly rawQuotes?: boolean;
  /** Keep the escape characters in the output (BuildKit's RawEscapes). */
  readonly rawEscapes?: boolean;
  /** Leave references to unset variables as written (`$X`, `${X:-y}`) instead of expanding them. */
  readonly skipUnsetEnv?: boolean;
  /** Treat quotes as ordinary characters. */
  readonly skipProcessQuotes?: boolean;
}

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

/** Expands `word`, returning the single string, the fields, and which variables were used and unset. */
export function expandWord(word: string, env: ShellEnv, o: LexOptions = {}): ExpandResult {
  const esc = o.escapeToken ?? '\\';
  if (!word.includes('$') && !word.includes("'") && !word.includes('"') && !word.includes(esc)) {
    // nothing to expand or remove: the word itself, split on whitespace
    return { value: word, words: word.split(WS_SPLIT).filter((w) => w !== ''), referenced: new Set(), unset: new Set() };
  }
  const lx = new Lexer(word, env, o);
  try {
    const r = lx.processStopOn(EOF, lx.rawEscapes);
    return { value: r.value, words: r.words, referenced: lx.matches, unset: lx.nonmatches };
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

// ---------------------------------------------------------------------------------------------------------

const EOF = -1;

/**
 * Limits that keep a hostile Dockerfile from exhausting the stack or memory (BuildKit's Go lexer has none,
 * but Go's stacks grow and its strings are not capped at 2^29 characters):
 * `${…}` nested deeper than this is an EXPANSION error (real Dockerfiles nest two or three levels) …
 */
export const MAX_EXPANSION_DEPTH = 100;
/** … and so is a word whose expansion exceeds this many UTF-16 units (`ENV A=$A$A` doubles per line). */
export const MAX_EXPANSION_LENGTH = 1 << 20;

class LexError extends Error {
  readonly hint: string | undefined;
  constructor(message: string, hint?: string) {
    super(message);
    this.hint = hint;
  }
}

const SPACE_RE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
const WS_SPLIT = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u;
const HAS_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const LETTER_RE = /^\p{L}$/u;
const DIGIT_RE = /^\p{Nd}$/u;

function isSpace(cp: number): boolean {
  if (cp < 128) return cp === 32 || (cp >= 9 && cp <= 13);
  return SPACE_RE.test(String.fromCodePoint(cp));
}
function isLetter(cp: number): boolean {
  return cp >= 0 && (cp < 128 ? (cp >= 65 && cp <= 90) || (cp >= 97 && cp <= 122) : LETTER_RE.test(String.fromCodePoint(cp)));
}
function isDigit(cp: number): boolean {
  return cp >= 0 && (cp < 128 ? cp >= 48 && cp <= 57 : DIGIT_RE.test(String.fromCodePoint(cp)));
}
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0'].map((c) => c.codePointAt(0)!));

const C = (s: string): number => s.codePointAt(0)!;
const DOLLAR = C('$');
const SQUOTE = C("'");
const DQUOTE = C('"');
const LBRACE = C('{');
const RBRACE = C('}');
const COLON = C(':');
const SLASH = C('/');

/** Accumulates fields the way BuildKit's wordsStruct does. */
class Words {
  word = '';
  words: string[] = [];
  inWord = false;

  addChar(cp: number): void {
    if (isSpace(cp)) {
      if (this.inWord && this.word.length !== 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(cp);
    }
  }
  addRawChar(cp: number): void {
    this.word += String.fromCodePoint(cp);
    this.inWord = true;
  }
  addString(s: string): void {
    if (s.length === 0) return;
    if (!HAS_SPACE.test(s)) {
      // the common case, and the only fast one for long values: no field break inside
      this.addRawString(s);
      return;
    }
    for (const ch of s) this.addChar(ch.codePointAt(0)!);
  }
  addRawString(s: string): void {
    this.word += s;
    this.inWord = true;
  }
  getWords(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class Lexer {
  readonly cps: number[];
  pos = 0;
  readonly escape: number;
  rawEscapes: boolean;
  readonly matches = new Set<string>();
  readonly nonmatches = new Set<string>();
  readonly #env: ShellEnv;
  readonly #o: LexOptions;
  #depth = 0;

  constructor(word: string, env: ShellEnv, o: LexOptions) {
    this.cps = Array.from(word, (c) => c.codePointAt(0)!);
    this.escape = C(o.escapeToken ?? '\\');
    this.rawEscapes = o.rawEscapes === true;
    this.#env = env;
    this.#o = o;
  }

  peek(): number {
    return this.pos < this.cps.length ? this.cps[this.pos]! : EOF;
  }
  next(): number {
    return this.pos < this.cps.length ? this.cps[this.pos++]! : EOF;
  }

  getEnv(name: string): { value: string; set: boolean } {
    const env = this.#env;
    let v: string | undefined;
    if (env instanceof Map) v = (env as ReadonlyMap<string, string>).get(name);
    else if (Object.prototype.hasOwnProperty.call(env, name)) v = (env as Record<string, string>)[name];
    if (v !== undefined) {
      this.matches.add(name);
      return { value: v, set: true };
    }
    this.nonmatches.add(name);
    return { value: '', set: false };
  }

  processStopOn(stop: number, rawEscapes: boolean): { value: string; words: string[] } {
    let result = '';
    const words = new Words();
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      while (this.peek() !== EOF) {
        const ch = this.peek();
        if (stop !== EOF && ch === stop) {
          this.next();
          return { value: result, words: words.getWords() };
        }
        if (ch === DOLLAR) {
          const tmp = this.processDollar();
          if (result.length + tmp.length > MAX_EXPANSION_LENGTH) {
            throw new LexError(`expansion longer than ${MAX_EXPANSION_LENGTH} characters`, 'the variables expand to an unreasonably long value; check for self-referencing ENV/ARG values');
          }
          result += tmp;
          words.addString(tmp);
        } else if (!this.#o.skipProcessQuotes && ch === SQUOTE) {
          const tmp = this.processSingleQuote();
          result += tmp;
          words.addRawString(tmp);
        } else if (!this.#o.skipProcessQuotes && ch === DQUOTE) {
          const tmp = this.processDoubleQuote();
          result += tmp;
          words.addRawString(tmp);
        } else {
          let c = this.next();
          if (c === this.escape) {
            if (this.rawEscapes) {
              words.addRawChar(c);
              result += String.fromCodePoint(c);
            }
            c = this.next();
            if (c === EOF) break;
            words.addRawChar(c);
          } else {
            words.addChar(c);
          }
          result += String.fromCodePoint(c);
        }
      }
    } finally {
      this.rawEscapes = saved;
    }
    if (stop !== EOF) {
      throw new LexError(`unexpected end of statement while looking for matching ${String.fromCodePoint(stop)}`);
    }
    return { value: result, words: words.getWords() };
  }

  processSingleQuote(): string {
    let result = '';
    let ch = this.next();
    if (this.#o.rawQuotes) result += String.fromCodePoint(ch);
    for (;;) {
      ch = this.next();
      if (ch === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote', 'close the single quote');
      if (ch === SQUOTE) {
        if (this.#o.rawQuotes) result += String.fromCodePoint(ch);
        return result;
      }
      result += String.fromCodePoint(ch);
    }
  }

  processDoubleQuote(): string {
    let result = '';
    let ch = this.next();
    if (this.#o.rawQuotes) result += String.fromCodePoint(ch);
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new LexError('unexpected end of statement while looking for matching double-quote', 'close the double quote');
      if (p === DQUOTE) {
        ch = this.next();
        if (this.#o.rawQuotes) result += String.fromCodePoint(ch);
        return result;
      }
      if (p === DOLLAR) {
        result += this.processDollar();
        if (result.length > MAX_EXPANSION_LENGTH) {
          throw new LexError(`expansion longer than ${MAX_EXPANSION_LENGTH} characters`, 'the variables expand to an unreasonably long value; check for self-referencing ENV/ARG values');
        }
        continue;
      }
      ch = this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) result += String.fromCodePoint(ch);
        const q = this.peek();
        if (q === EOF) continue; // a trailing escape is ignored
        if (q === DQUOTE || q === DOLLAR || q === this.escape) ch = this.next();
      }
      result += String.fromCodePoint(ch);
    }
  }

  processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name.length === 0 && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += String.fromCodePoint(this.next());
        return name;
      }
      if (name.length === 0 && SPECIAL_PARAMS.has(ch)) return String.fromCodePoint(this.next());
      if (!isLetter(ch) && !isDigit(ch) && ch !== C('_')) break;
      name += String.fromCodePoint(this.next());
    }
    return name;
  }

  processDollar(): string {
    if (this.#depth >= MAX_EXPANSION_DEPTH) {
      throw new LexError(`variable substitutions nested more than ${MAX_EXPANSION_DEPTH} levels deep`, 'simplify the nested ${…} expressions');
    }
    this.#depth++;
    try {
      return this.#processDollar();
    } finally {
      this.#depth--;
    }
  }

  #processDollar(): string {
    this.next(); // '$'
    if (this.peek() !== LBRACE) {
      const name = this.processName();
      if (name === '') return '$';
      const { value, set } = this.getEnv(name);
      if (!set && this.#o.skipUnsetEnv) return '$' + name;
      return value;
    }
    this.next(); // '{'
    const p = this.peek();
    if (p === EOF) throw new LexError("syntax error: missing '}'");
    if (p === LBRACE || p === RBRACE || p === COLON) throw new LexError('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    let chs = ch === EOF ? '' : String.fromCodePoint(ch);
    let nullIsUnset = false;

    if (ch === RBRACE) {
      const { value, set } = this.getEnv(name);
      if (!set && this.#o.skipUnsetEnv) return `\${${name}}`;
      return value;
    }
    if (ch === COLON) {
      nullIsUnset = true;
      ch = this.next();
      chs += ch === EOF ? '' : String.fromCodePoint(ch);
    }
    const op = ch === EOF ? '' : String.fromCodePoint(ch);
    if (nullIsUnset || op === '+' || op === '-' || op === '?' || op === '#' || op === '%') {
      const pattern = op === '#' || op === '%';
      if (nullIsUnset && pattern) {
        throw new LexError(`unsupported modifier (${chs}) in substitution`, `use \${${name}${op}...} without ':'`);
      }
      let word: string;
      try {
        word = this.processStopOn(RBRACE, pattern).value;
      } catch (e) {
        if (e instanceof LexError && this.peek() === EOF) throw new LexError("syntax error: missing '}'");
        throw e;
      }
      const { value, set } = this.getEnv(name);
      if (this.#o.skipUnsetEnv && !set) return `\${${name}${chs}${word}}`;
      const empty = !set || (nullIsUnset && value === '');
      switch (op) {
        case '-':
          return empty ? word : value;
        case '+':
          return empty ? '' : word;
        case '?':
          if (!set) throw new LexError(`${name}: ${word !== '' ? word : 'is not allowed to be unset'}`, `set ${name} (for example with --build-arg ${name}=...)`);
          if (nullIsUnset && value === '') throw new LexError(`${name}: ${word !== '' ? word : 'is not allowed to be empty'}`, `give ${name} a non-empty value`);
          return value;
        case '#':
        case '%': {
          let greedy = false;
          let pat = word;
          if (pat.startsWith(op)) {
            greedy = true;
            pat = pat.slice(1);
          }
          return op === '%' ? trimSuffix(pat, value, greedy) : trimPrefix(pat, value, greedy);
        }
        default:
          throw new LexError(`unsupported modifier (${chs}) in substitution`);
      }
    }
    if (op === '/') {
      const replaceAll = this.peek() === SLASH;
      if (replaceAll) this.next();
      let pattern: string;
      try {
        pattern = this.processStopOn(SLASH, true).value;
      } catch (e) {
        if (e instanceof LexError && this.peek() === EOF) throw new LexError("syntax error: missing '/' in ${}");
        throw e;
      }
      let replacement: string;
      try {
        replacement = this.processStopOn(RBRACE, true).value;
      } catch (e) {
        if (e instanceof LexError && this.peek() === EOF) throw new LexError("syntax error: missing '}'");
        throw e;
      }
      const { value, set } = this.getEnv(name);
      if (this.#o.skipUnsetEnv && !set) return `\${${name}/${pattern}/${replacement}}`;
      const tokens = compilePattern(pattern);
      if (replaceAll) return goReplaceAll(tokens, value, replacement);
      const text = codePoints(value);
      const m = matchPattern(tokens, text, 0, false, true);
      if (m === undefined) return value;
      return cpString(text, 0, m[0]) + replacement + cpString(text, m[1]);
    }
    throw new LexError(`unsupported modifier (${chs}) in substitution`);
  }
}

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

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
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

function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
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
      if (out.length > MAX_EXPANSION_LENGTH) {
        throw new LexError(`expansion longer than ${MAX_EXPANSION_LENGTH} characters`, 'the replacement makes the value unreasonably long');
      }
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
