/**
 * The lexer of Go's text/template: text and `{{ … }}` actions (with `{{-`/`-}}` trimming the whitespace beside
 * them and `{{/* … *\/}}` comments) → tokens, each with its byte offset for error positions.
 */
import { TemplateError } from './errors.js';

export type TokenType =
  | 'text' | 'leftDelim' | 'rightDelim' | 'space' | 'field' | 'variable' | 'identifier' | 'keyword' | 'dot'
  | 'string' | 'rawString' | 'char' | 'number' | 'bool' | 'nil' | 'pipe' | 'leftParen' | 'rightParen' | 'declare'
  | 'assign' | 'comma' | 'eof';

export interface Token {
  readonly type: TokenType;
  /** The token's text (for text: after trimming; for strings: as written, quotes included). */
  readonly val: string;
  /** Offset of the token in the template. */
  readonly pos: number;
}

export const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
// ASCII answered without the Unicode-property expression, whose first use compiles its tables (~0.5 ms of
// every command that prints a template, e.g. `images`); the same answer (in ASCII, \p{L} is A-Z a-z, \p{N} 0-9).
const isAlnum = (c: string | undefined): boolean => {
  if (c === undefined) return false;
  const k = c.charCodeAt(0);
  if (k < 0x80) return (k >= 0x61 && k <= 0x7a) || (k >= 0x41 && k <= 0x5a) || (k >= 0x30 && k <= 0x39) || k === 0x5f;
  return /[\p{L}\p{N}_]/u.test(c);
};

/** Returns the 1-based line of `pos` in `src` (for messages as Go writes them: `template: NAME:LINE:`). */
export function lineOf(src: string, pos: number): number {
  let n = 1;
  for (let i = 0; i < pos && i < src.length; i++) if (src[i] === '\n') n++;
  return n;
}

/** Returns the tokens of `src`; throws TemplateError for an unclosed action, comment, string or paren. */
export function lex(src: string, name = ''): Token[] {
  const toks: Token[] = [];
  let i = 0;
  const fail = (pos: number, msg: string): never => {
    throw new TemplateError(`template: ${name}:${lineOf(src, pos)}: ${msg}`);
  };
  while (i <= src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      if (i < src.length) toks.push({ type: 'text', val: src.slice(i), pos: i });
      break;
    }
    let text = src.slice(i, open);
    let p = open + 2;
    const trimLeft = src[p] === '-' && isSpace(src[p + 1]);
    if (trimLeft) {
      text = text.replace(/[ \t\r\n]+$/, '');
      p += 1;
    }
    if (text.length > 0) toks.push({ type: 'text', val: text, pos: i });
    // A comment: {{/* … */}} (with optional trim markers around it).
    let q = p;
    while (isSpace(src[q]) && trimLeft) q++;
    if (src.startsWith('/*', q)) {
      const close = src.indexOf('*/', q + 2);
      if (close < 0) fail(open, 'unclosed comment');
      let r = close + 2;
      let trimRight = false;
      if (src[r] === ' ' && src[r + 1] === '-' && src.startsWith('}}', r + 2)) {
        trimRight = true;
        r += 2;
      }
      if (!src.startsWith('}}', r)) fail(open, 'comment ends before closing delimiter');
      i = r + 2;
      if (trimRight) while (isSpace(src[i])) i++;
      continue;
    }
    toks.push({ type: 'leftDelim', val: '{{', pos: open });
    // Inside an action.
    let parens = 0;
    for (;;) {
      if (p >= src.length) fail(open, 'unclosed action');
      const c = src[p]!;
      if (isSpace(c)) {
        const start = p;
        while (isSpace(src[p])) p++;
        // ` -}}` closes with a trim.
        if (src[p] === '-' && src.startsWith('}}', p + 1)) {
          if (parens > 0) fail(p, 'unclosed left paren');
          toks.push({ type: 'rightDelim', val: '}}', pos: p });
          i = p + 3;
          while (isSpace(src[i])) i++;
          break;
        }
        if (src.startsWith('}}', p)) continue;
        toks.push({ type: 'space', val: src.slice(start, p), pos: start });
        continue;
      }
      if (src.startsWith('}}', p)) {
        if (parens > 0) fail(p, 'unclosed left paren');
        toks.push({ type: 'rightDelim', val: '}}', pos: p });
        i = p + 2;
        break;
      }
      const start = p;
      if (c === '|') { toks.push({ type: 'pipe', val: c, pos: p++ }); continue; }
      if (c === ',') { toks.push({ type: 'comma', val: c, pos: p++ }); continue; }
      if (c === '(') { parens++; toks.push({ type: 'leftParen', val: c, pos: p++ }); continue; }
      if (c === ')') {
        if (--parens < 0) fail(p, 'unexpected right paren');
        toks.push({ type: 'rightParen', val: c, pos: p++ });
        continue;
      }
      if (c === ':') {
        if (src[p + 1] !== '=') fail(p, 'expected :=');
        toks.push({ type: 'declare', val: ':=', pos: p });
        p += 2;
        continue;
      }
      if (c === '=') { toks.push({ type: 'assign', val: c, pos: p++ }); continue; }
      if (c === '"') {
        p++;
        while (src[p] !== '"') {
          if (p >= src.length || src[p] === '\n') fail(start, 'unterminated quoted string');
          if (src[p] === '\\') p++;
          p++;
        }
        p++;
        toks.push({ type: 'string', val: src.slice(start, p), pos: start });
        continue;
      }
      if (c === '`') {
        const close = src.indexOf('`', p + 1);
        if (close < 0) fail(start, 'unterminated raw quoted string');
        p = close + 1;
        toks.push({ type: 'rawString', val: src.slice(start, p), pos: start });
        continue;
      }
      if (c === "'") {
        p++;
        while (src[p] !== "'") {
          if (p >= src.length || src[p] === '\n') fail(start, 'unterminated character constant');
          if (src[p] === '\\') p++;
          p++;
        }
        p++;
        toks.push({ type: 'char', val: src.slice(start, p), pos: start });
        continue;
      }
      if (c === '$') {
        p++;
        while (isAlnum(src[p])) p++;
        toks.push({ type: 'variable', val: src.slice(start, p), pos: start });
        continue;
      }
      if (c === '.') {
        if (/[0-9]/.test(src[p + 1] ?? '')) {
          p = lexNumber(src, p);
          toks.push({ type: 'number', val: src.slice(start, p), pos: start });
          continue;
        }
        p++;
        if (!isAlnum(src[p])) {
          toks.push({ type: 'dot', val: '.', pos: start });
          continue;
        }
        while (isAlnum(src[p])) p++;
        toks.push({ type: 'field', val: src.slice(start, p), pos: start });
        continue;
      }
      if (/[0-9+-]/.test(c)) {
        p = lexNumber(src, p);
        if (p === start) fail(start, `bad character ${JSON.stringify(c)}`);
        toks.push({ type: 'number', val: src.slice(start, p), pos: start });
        continue;
      }
      if (isAlnum(c)) {
        while (isAlnum(src[p])) p++;
        const word = src.slice(start, p);
        const type: TokenType = KEYWORDS.has(word) ? 'keyword' : word === 'true' || word === 'false' ? 'bool' : word === 'nil' ? 'nil' : 'identifier';
        toks.push({ type, val: word, pos: start });
        continue;
      }
      fail(p, `unexpected ${JSON.stringify(c)} in command`);
    }
  }
  toks.push({ type: 'eof', val: '', pos: src.length });
  return toks;
}

function lexNumber(src: string, p: number): number {
  const m = /^[+-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|(\d[\d_]*)?\.?\d*([eE][+-]?\d+)?)/.exec(src.slice(p));
  return p + (m ? m[0].length : 0);
}
