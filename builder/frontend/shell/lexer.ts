/**
 * The one shell word scanner (BuildKit's frontend/dockerfile/shell/lex.go `shellWord`): quotes, escapes,
 * `$NAME` and `${NAME…}`, fields (words.ts). Expansion (shell/index.ts) and the parser's heredoc scan
 * (parser/heredoc.ts) both read words through it.
 */
import type { EscapeToken } from '../parser/ast.js';
import { LexError, MAX_EXPANSION_DEPTH, MAX_EXPANSION_LENGTH, tooLong } from './limits.js';
import { replacePattern, trimPrefix, trimSuffix } from './pattern.js';
import { chr, Words } from './words.js';

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

/** What one pass of the scanner over a word yields. */
export interface LexResult {
  /** The word as one string (inner whitespace kept). */
  readonly value: string;
  /** The word split into fields (unquoted whitespace, including whitespace from variables, splits). */
  readonly words: string[];
  /** Variable names that were referenced and set. */
  readonly referenced: ReadonlySet<string>;
  /** Variable names that were referenced but unset. */
  readonly unset: ReadonlySet<string>;
}

/** How the scanner reads beyond BuildKit's Lex options (internal: the heredoc scan's needs). */
interface ScanOptions {
  /**
   * Read `<<` and the blanks after it as one unsplittable piece (BuildKit's processPossibleHeredoc), so
   * `<< EOF` stays one field. Only the heredoc scan asks for it: tsbuild's expansion has never done it.
   */
  readonly heredocMarkers?: boolean;
  /** Longest value, in UTF-16 units, before the scan fails (default MAX_EXPANSION_LENGTH). */
  readonly maxLength?: number;
}

/** Scans `word` once (BuildKit's shellWord.process). Throws LexError. */
export function lexWord(word: string, env: ShellEnv, o: LexOptions, scan: ScanOptions = {}): LexResult {
  const lx = new Lexer(word, env, o, scan);
  const r = lx.processStopOn(EOF, lx.rawEscapes);
  return { value: r.value, words: r.words, referenced: lx.matches, unset: lx.nonmatches };
}

const NO_VARIABLES: ShellEnv = new Map();

/**
 * Returns the fields of a Dockerfile line as BuildKit's heredoc scan sees them: lexed with no variable set
 * and unset references left as written, escape `\` whatever the escape directive, and `<<` kept together
 * with the blanks after it. `raw` keeps quotes (and escapes, unless `rawEscapes` is false). Throws LexError.
 */
export function heredocWords(line: string, o: { readonly rawQuotes: boolean; readonly rawEscapes: boolean }): string[] {
  const lex: LexOptions = { rawQuotes: o.rawQuotes, rawEscapes: o.rawEscapes, skipUnsetEnv: true };
  // with no variables the value is never longer than the line: the length limit guards expansion only
  return lexWord(line, NO_VARIABLES, lex, { heredocMarkers: true, maxLength: Infinity }).words;
}

// ---------------------------------------------------------------------------------------------------------

const EOF = -1;

const LETTER_RE = /^\p{L}$/u;
const DIGIT_RE = /^\p{Nd}$/u;

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
const LESS = C('<');
const SPACE = C(' ');
const TAB = C('\t');

/** Returns the code points of `s` (a lone surrogate is one), as Go's scanner reads runes; a loop is ~5x faster than Array.from. */
function codePoints(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const cp = s.codePointAt(i)!;
    out.push(cp);
    if (cp > 0xffff) i++;
  }
  return out;
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
  readonly #heredocMarkers: boolean;
  readonly #maxLength: number;
  #depth = 0;

  constructor(word: string, env: ShellEnv, o: LexOptions, scan: ScanOptions) {
    this.cps = codePoints(word);
    this.escape = C(o.escapeToken ?? '\\');
    this.rawEscapes = o.rawEscapes === true;
    this.#env = env;
    this.#o = o;
    this.#heredocMarkers = scan.heredocMarkers === true;
    this.#maxLength = scan.maxLength ?? MAX_EXPANSION_LENGTH;
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
          if (result.length + tmp.length > this.#maxLength) throw tooLong(this.#maxLength);
          result += tmp;
          words.addString(tmp);
        } else if (ch === LESS && this.#heredocMarkers) {
          const tmp = this.processPossibleHeredoc();
          result += tmp;
          words.addRawString(tmp);
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
              result += chr(c);
            }
            c = this.next();
            if (c === EOF) break;
            words.addRawChar(c);
          } else {
            words.addChar(c);
          }
          result += chr(c);
        }
      }
    } finally {
      this.rawEscapes = saved;
    }
    if (stop !== EOF) {
      throw new LexError(`unexpected end of statement while looking for matching ${chr(stop)}`);
    }
    return { value: result, words: words.getWords() };
  }

  processSingleQuote(): string {
    let result = '';
    let ch = this.next();
    if (this.#o.rawQuotes) result += chr(ch);
    for (;;) {
      ch = this.next();
      if (ch === EOF) throw new LexError('unexpected end of statement while looking for matching single-quote', 'close the single quote');
      if (ch === SQUOTE) {
        if (this.#o.rawQuotes) result += chr(ch);
        return result;
      }
      result += chr(ch);
    }
  }

  processDoubleQuote(): string {
    let result = '';
    let ch = this.next();
    if (this.#o.rawQuotes) result += chr(ch);
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new LexError('unexpected end of statement while looking for matching double-quote', 'close the double quote');
      if (p === DQUOTE) {
        ch = this.next();
        if (this.#o.rawQuotes) result += chr(ch);
        return result;
      }
      if (p === DOLLAR) {
        result += this.processDollar();
        if (result.length > this.#maxLength) throw tooLong(this.#maxLength);
        continue;
      }
      ch = this.next();
      if (ch === this.escape) {
        if (this.rawEscapes) result += chr(ch);
        const q = this.peek();
        if (q === EOF) continue; // a trailing escape is ignored
        if (q === DQUOTE || q === DOLLAR || q === this.escape) ch = this.next();
      }
      result += chr(ch);
    }
  }

  /**
   * Returns `<`, or `<<` with the spaces and tabs after it. BuildKit's isWhitespace also takes `\r`;
   * tsbuild's heredoc scan never has, so `<<\rEOF` is still two fields here (reported, not changed).
   */
  processPossibleHeredoc(): string {
    this.next(); // '<'
    if (this.peek() !== LESS) return '<';
    this.next();
    let result = '<<';
    while (this.peek() === SPACE || this.peek() === TAB) result += chr(this.next());
    return result;
  }

  processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name.length === 0 && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += chr(this.next());
        return name;
      }
      if (name.length === 0 && SPECIAL_PARAMS.has(ch)) return chr(this.next());
      if (!isLetter(ch) && !isDigit(ch) && ch !== C('_')) break;
      name += chr(this.next());
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
    let chs = ch === EOF ? '' : chr(ch);
    let nullIsUnset = false;

    if (ch === RBRACE) {
      const { value, set } = this.getEnv(name);
      if (!set && this.#o.skipUnsetEnv) return `\${${name}}`;
      return value;
    }
    if (ch === COLON) {
      nullIsUnset = true;
      ch = this.next();
      chs += ch === EOF ? '' : chr(ch);
    }
    const op = ch === EOF ? '' : chr(ch);
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
      return replacePattern(pattern, value, replacement, replaceAll);
    }
    throw new LexError(`unsupported modifier (${chs}) in substitution`);
  }
}
