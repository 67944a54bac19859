/**
 * Heredoc detection as BuildKit does it: the logical line is split into shell words (quotes and
 * escapes kept, unset variables left as written), and every word of the form `[N]<<[-][ ]NAME` is a
 * heredoc. The name is lexed twice (quotes removed / kept): if the quote counts differ, part of
 * the name was quoted and the body is not expanded.
 *
 * Only the subset of the shell lexer that this needs lives here (empty environment, escape `\`).
 */

/** A lexing failure (unterminated quote, bad `${…}`); the caller turns it into a DockerfileError. */
export class HeredocLexError {
  constructor(readonly message: string) {}
}

export interface HeredocHeader {
  readonly name: string;
  readonly expand: boolean;
  readonly chomp: boolean;
  readonly fileDescriptor: number;
}

const ESC = '\\';

function isSpace(c: string): boolean {
  // Go's unicode.IsSpace
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case '\u0085':
    case '\u00a0':
    case '\u1680':
    case '\u2028':
    case '\u2029':
    case '\u202f':
    case '\u205f':
    case '\u3000':
      return true;
    default:
      return c >= '\u2000' && c <= '\u200a';
  }
}

const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

function isDigit(c: string): boolean {
  if (c >= '0' && c <= '9') return true;
  return c > '\x7f' && DIGIT.test(c);
}

function isLetter(c: string): boolean {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c > '\x7f' && LETTER.test(c);
}

function isSpecialParam(c: string): boolean {
  return '@*#?-$!0'.includes(c) && c.length === 1;
}

class Words {
  private word = '';
  private inWord = false;
  readonly words: string[] = [];

  addChar(c: string): void {
    if (isSpace(c)) {
      if (this.inWord && this.word.length !== 0) {
        this.words.push(this.word);
        this.word = '';
        this.inWord = false;
      }
    } else {
      this.addRaw(c);
    }
  }

  addString(s: string): void {
    for (let i = 0; i < s.length; i++) this.addChar(s[i]!);
  }

  addRaw(s: string): void {
    this.word += s;
    this.inWord = true;
  }

  finish(): string[] {
    if (this.word.length > 0) {
      this.words.push(this.word);
      this.word = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class Lexer {
  private pos = 0;
  private rawEscapes: boolean;

  constructor(
    private readonly src: string,
    private readonly rawQuotes: boolean,
    rawEscapes: boolean,
  ) {
    this.rawEscapes = rawEscapes;
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private next(): string | undefined {
    const c = this.src[this.pos];
    if (c !== undefined) this.pos++;
    return c;
  }

  words(): string[] {
    // The top level only needs the words, not the joined result.
    return this.stopOn(undefined, this.rawEscapes, false).words;
  }

  private stopOn(stop: string | undefined, rawEscapes: boolean, collect = true): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = '';
      const words = new Words();
      for (let c = this.peek(); c !== undefined; c = this.peek()) {
        if (stop !== undefined && c === stop) {
          this.pos++;
          return { result, words: words.finish() };
        }
        if (c === '$') {
          const t = this.dollar();
          if (collect) result += t;
          words.addString(t);
        } else if (c === "'") {
          const t = this.singleQuote();
          if (collect) result += t;
          words.addRaw(t);
        } else if (c === '"') {
          const t = this.doubleQuote();
          if (collect) result += t;
          words.addRaw(t);
        } else if (c === '<') {
          const t = this.possibleHeredoc();
          if (collect) result += t;
          words.addRaw(t);
        } else {
          this.pos++;
          let ch = c;
          if (ch === ESC) {
            if (this.rawEscapes) {
              words.addRaw(ch);
              if (collect) result += ch;
            }
            const n = this.next();
            if (n === undefined) break;
            ch = n;
            words.addRaw(ch);
          } else {
            words.addChar(ch);
          }
          if (collect) result += ch;
        }
      }
      if (stop !== undefined) throw new HeredocLexError(`unexpected end of statement while looking for matching ${stop}`);
      return { result, words: words.finish() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private singleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.rawQuotes) result += open;
    for (;;) {
      const c = this.next();
      if (c === undefined) throw new HeredocLexError('unexpected end of statement while looking for matching single-quote');
      if (c === "'") {
        if (this.rawQuotes) result += c;
        return result;
      }
      result += c;
    }
  }

  private doubleQuote(): string {
    let result = '';
    const open = this.next()!;
    if (this.rawQuotes) result += open;
    for (;;) {
      const p = this.peek();
      if (p === undefined) throw new HeredocLexError('unexpected end of statement while looking for matching double-quote');
      if (p === '"') {
        this.pos++;
        if (this.rawQuotes) result += p;
        return result;
      }
      if (p === '$') {
        result += this.dollar();
        continue;
      }
      let c = this.next()!;
      if (c === ESC) {
        if (this.rawEscapes) result += c;
        const q = this.peek();
        if (q === undefined) continue;
        if (q === '"' || q === '$' || q === ESC) c = this.next()!;
      }
      result += c;
    }
  }

  private possibleHeredoc(): string {
    this.pos++;
    if (this.peek() !== '<') return '<';
    this.pos++;
    let space = '';
    for (let c = this.peek(); c === ' ' || c === '\t'; c = this.peek()) {
      space += c;
      this.pos++;
    }
    return '<<' + space;
  }

  /** `$…` with every variable unset and unset variables kept as written. */
  private dollar(): string {
    this.pos++;
    if (this.peek() !== '{') {
      const name = this.name();
      return name === '' ? '$' : '$' + name;
    }
    this.pos++;
    const p = this.peek();
    if (p === undefined) throw new HeredocLexError("syntax error: missing '}'");
    if (p === '{' || p === '}' || p === ':') throw new HeredocLexError('syntax error: bad substitution');
    const name = this.name();
    let ch = this.next();
    let chs = ch ?? '\ufffd';
    switch (ch) {
      case '}':
        return '${' + name + '}';
      case ':':
      case '+':
      case '-':
      case '?':
      case '#':
      case '%': {
        if (ch === ':') {
          ch = this.next();
          chs += ch ?? '\ufffd';
        }
        let word: string;
        try {
          word = this.stopOn('}', ch === '#' || ch === '%').result;
        } catch (e) {
          if (this.peek() === undefined) throw new HeredocLexError("syntax error: missing '}'");
          throw e;
        }
        return '${' + name + chs + word + '}';
      }
      case '/': {
        if (this.peek() === '/') this.pos++;
        let pattern: string;
        try {
          pattern = this.stopOn('/', true).result;
        } catch (e) {
          if (this.peek() === undefined) throw new HeredocLexError("syntax error: missing '/' in ${}");
          throw e;
        }
        let replacement: string;
        try {
          replacement = this.stopOn('}', true).result;
        } catch (e) {
          if (this.peek() === undefined) throw new HeredocLexError("syntax error: missing '}'");
          throw e;
        }
        return '${' + name + '/' + pattern + '/' + replacement + '}';
      }
      default:
        throw new HeredocLexError(`unsupported modifier (${chs}) in substitution`);
    }
  }

  private name(): string {
    let name = '';
    for (let c = this.peek(); c !== undefined; c = this.peek()) {
      if (name === '' && isDigit(c)) {
        while (this.peek() !== undefined && isDigit(this.peek()!)) name += this.next()!;
        return name;
      }
      if (name === '' && isSpecialParam(c)) {
        this.pos++;
        return c;
      }
      if (!isLetter(c) && !isDigit(c) && c !== '_') break;
      name += c;
      this.pos++;
    }
    return name;
  }
}

function countQuotes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x27) n++;
  }
  return n;
}

/**
 * Parses one word as a heredoc header (`<<EOF`, `<<-EOF`, `3<<EOF`, `<< EOF`, `<<'EOF'`).
 * Returns undefined when the word is not a heredoc; throws HeredocLexError for a malformed name.
 */
export function parseHeredocWord(word: string): HeredocHeader | undefined {
  let i = 0;
  while (i < word.length && word.charCodeAt(i) >= 0x30 && word.charCodeAt(i) <= 0x39) i++;
  const fd = word.slice(0, i);
  if (word[i] !== '<' || word[i + 1] !== '<') return undefined;
  i += 2;
  const chomp = word[i] === '-';
  if (chomp) i++;
  while (i < word.length && ' \t\n\f\r'.includes(word[i]!)) i++;
  const rest = word.slice(i);
  if (rest.includes('<') || rest === '') return undefined;

  const words = new Lexer(rest, false, false).words();
  if (words.length !== 1) return undefined;
  const raw = new Lexer(rest, true, false).words();
  if (raw.length !== words.length) {
    throw new HeredocLexError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  }
  const name = words[0]!;
  return {
    name,
    expand: countQuotes(name) === countQuotes(raw[0]!),
    chomp,
    fileDescriptor: fd === '' ? 0 : Number(fd),
  };
}

/** All heredoc headers on a logical line, in order (none when the line does not lex). */
export function heredocsFromLine(line: string): HeredocHeader[] {
  let words: string[];
  try {
    words = new Lexer(line, true, true).words();
  } catch (e) {
    if (e instanceof HeredocLexError) return [];
    throw e;
  }
  const out: HeredocHeader[] = [];
  for (const w of words) {
    const h = parseHeredocWord(w);
    if (h !== undefined) out.push(h);
  }
  return out;
}

/** Removes leading tabs from every line (what `<<-` does to the body at build time). */
export function chompHeredocContent(content: string): string {
  return content.replace(/^\t+/gm, '');
}
