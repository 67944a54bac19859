/**
 * Per-instruction argument parsers (BuildKit's `line_parsers.go` semantics): each turns the text
 * after the keyword and flags into the argument list BuildKit keeps in the node's `Next` chain.
 */

/** A line-level failure; the scanner adds file and line. */
export class LineError {
  constructor(
    readonly message: string,
    readonly hint: string,
    readonly code: 'DOCKERFILE_SYNTAX' | 'DOCKERFILE_BAD_ARGUMENT' = 'DOCKERFILE_SYNTAX',
  ) {}
}

export interface ParsedArgs {
  readonly args: string[];
  readonly json: boolean;
}

const NONE: ParsedArgs = { args: [], json: false };

/** Go's unicode.IsSpace for one UTF-16 code unit (every Unicode space is in the BMP). */
export function isUnicodeSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  if (c === 0x85 || c === 0xa0 || c === 0x1680) return true;
  if (c >= 0x2000 && c <= 0x200a) return true;
  return c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000;
}

/** `[\t\v\f\r ]` — BuildKit's reWhitespace class. */
function isAsciiBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0b || c === 0x0c || c === 0x0d;
}

/** unicode.IsSpace applied to a single byte value (Go code that indexes strings byte-wise). */
function isSpaceByte(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d) || b === 0x85 || b === 0xa0;
}

export function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isUnicodeSpace(s.charCodeAt(i))) i++;
  return i === 0 ? s : s.slice(i);
}

export function trimSpace(s: string): string {
  let i = 0;
  let j = s.length;
  while (i < j && isUnicodeSpace(s.charCodeAt(i))) i++;
  while (j > i && isUnicodeSpace(s.charCodeAt(j - 1))) j--;
  return i === 0 && j === s.length ? s : s.slice(i, j);
}

/** Splits on runs of `[\t\v\f\r ]` (Go regexp Split with n = -1, or n = 2 when `limit2`). */
export function splitBlank(s: string, limit2 = false): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  while (i < s.length) {
    if (isAsciiBlank(s.charCodeAt(i))) {
      let j = i + 1;
      while (j < s.length && isAsciiBlank(s.charCodeAt(j))) j++;
      out.push(s.slice(start, i));
      start = j;
      i = j;
      if (limit2) break;
    } else {
      i++;
    }
  }
  out.push(s.slice(start));
  return out;
}

function hasNonAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return true;
  return false;
}

/** UTF-8 bytes of `s` as a string of code points 0–255 (Go's view of a string as bytes). */
function toByteString(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

function fromByteString(b: string): string {
  return Buffer.from(b, 'latin1').toString('utf8');
}

/**
 * Pulls the leading `--flag` words off `line` (BuildKit's extractBuilderFlags). Quotes are removed
 * and `\` escapes the next character (always `\`, whatever the escape directive says), a bare `--`
 * ends the flags. Works on bytes like the Go code, so non-ASCII text behaves identically.
 */
export function extractFlags(line: string): { rest: string; flags: string[] } {
  // Fast path: no leading "--" word. Only ASCII blanks can precede it (a non-ASCII character's
  // first UTF-8 byte is never a space byte), so this agrees with the byte-wise scan below.
  let p = 0;
  while (p < line.length && isSpaceByte(line.charCodeAt(p)) && line.charCodeAt(p) < 0x80) p++;
  if (line.charCodeAt(p) !== 0x2d || line.charCodeAt(p + 1) !== 0x2d) return { rest: p === 0 ? line : line.slice(p), flags: [] };

  const ascii = !hasNonAscii(line);
  const s = ascii ? line : toByteString(line);
  const flags: string[] = [];
  const IN_SPACES = 0;
  const IN_WORD = 1;
  const IN_QUOTE = 2;
  let phase = IN_SPACES;
  // The current word is `word` + s.slice(seg, pos): pieces are flushed only at quotes and escapes.
  let word = '';
  let seg = 0;
  let quote = 0;
  let blankOK = false;
  const n = s.length;
  for (let pos = 0; pos <= n; pos++) {
    const ch = pos < n ? s.charCodeAt(pos) : -1;
    if (phase === IN_SPACES) {
      if (pos === n) break;
      if (isSpaceByte(ch)) continue;
      if (ch !== 0x2d || pos + 1 === n || s.charCodeAt(pos + 1) !== 0x2d) {
        return { rest: ascii ? s.slice(pos) : fromByteString(s.slice(pos)), flags };
      }
      phase = IN_WORD;
      word = '';
      seg = pos;
    }
    if (pos === n) {
      const w = word + s.slice(seg, pos);
      if (w !== '--' && (blankOK || w.length > 0)) flags.push(w);
      break;
    }
    if (phase === IN_WORD) {
      if (isSpaceByte(ch)) {
        const w = word + s.slice(seg, pos);
        phase = IN_SPACES;
        if (w === '--') return { rest: ascii ? s.slice(pos) : fromByteString(s.slice(pos)), flags };
        if (blankOK || w.length > 0) flags.push(w);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === 0x27 || ch === 0x22) {
        word += s.slice(seg, pos);
        seg = pos + 1;
        quote = ch;
        blankOK = true;
        phase = IN_QUOTE;
        continue;
      }
      if (ch === 0x5c) {
        word += s.slice(seg, pos);
        seg = pos + 1; // the escaped character (if any) is kept, the backslash dropped
        if (pos + 1 !== n) pos++;
      }
      continue;
    }
    // IN_QUOTE
    if (ch === quote) {
      word += s.slice(seg, pos);
      seg = pos + 1;
      phase = IN_WORD;
      continue;
    }
    if (ch === 0x5c) {
      word += s.slice(seg, pos);
      seg = pos + 1;
      if (pos + 1 === n) phase = IN_WORD;
      else pos++;
    }
  }
  return { rest: '', flags };
}

/** Splits a logical line into keyword, flags and the trimmed rest (BuildKit's splitCommand). */
export function splitCommand(line: string): { cmd: string; flags: string[]; rest: string } {
  const parts = splitBlank(trimSpace(line), true);
  const cmd = parts[0]!;
  if (parts.length < 2) return { cmd, flags: [], rest: '' };
  const { rest, flags } = extractFlags(parts[1]!);
  return { cmd, flags, rest: trimSpace(rest) };
}

/**
 * Quote-aware words (BuildKit's parseWords, for ENV, LABEL and ARG): split on unquoted,
 * unescaped whitespace; quotes and escapes stay in the word; a trailing escape is dropped.
 */
export function parseWords(rest: string, escape: string): string[] {
  const esc = escape.charCodeAt(0);
  const words: string[] = [];
  const n = rest.length;
  let pos = 0;
  while (pos < n) {
    while (pos < n && isUnicodeSpace(rest.charCodeAt(pos))) pos++;
    if (pos >= n) break;
    const start = pos;
    let quote = 0;
    let end = -1; // exclusive end when the word ends at a dropped trailing escape
    while (pos < n) {
      const ch = rest.charCodeAt(pos);
      if (quote === 0) {
        if (isUnicodeSpace(ch)) break;
        if (ch === 0x27 || ch === 0x22) {
          quote = ch;
          pos++;
          continue;
        }
        if (ch === esc) {
          if (pos + 1 === n) {
            end = pos;
            pos++;
            break;
          }
          pos += 2;
          continue;
        }
        pos++;
      } else {
        if (ch === quote) {
          quote = 0;
          pos++;
          continue;
        }
        if (ch === esc && quote !== 0x27) {
          if (pos + 1 === n) {
            end = pos;
            pos++;
            break;
          }
          pos += 2;
          continue;
        }
        pos++;
      }
    }
    const word = rest.slice(start, end >= 0 ? end : pos);
    if (word.length > 0) words.push(word);
  }
  return words;
}

function nameVal(rest: string, key: string, escape: string): ParsedArgs {
  const words = parseWords(rest, escape);
  if (words.length === 0) return NONE;
  if (!words[0]!.includes('=')) {
    const parts = splitBlank(rest, true);
    if (parts.length < 2) {
      throw new LineError(
        `${key} must have two arguments`,
        `write \`${key} ${parts[0] ?? 'name'}=value\` (or \`${key} ${parts[0] ?? 'name'} value\`)`,
        'DOCKERFILE_BAD_ARGUMENT',
      );
    }
    return { args: [parts[0]!, parts[1]!, ''], json: false };
  }
  const args: string[] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq < 0) {
      throw new LineError(
        `Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`,
        `give every ${key} item a value as name=value (quote values that contain spaces)`,
        'DOCKERFILE_BAD_ARGUMENT',
      );
    }
    args.push(w.slice(0, eq), w.slice(eq + 1), '=');
  }
  return { args, json: false };
}

const NOT_STRING_ARRAY = new LineError(
  'when using JSON array syntax, arrays must be comprised of strings only',
  'write the exec form as a JSON array of strings, e.g. ["executable", "arg"]',
  'DOCKERFILE_BAD_ARGUMENT',
);

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** JSON array of strings → its elements; undefined when not a JSON array; throws for non-strings. */
function parseJSONArray(rest: string): string[] | undefined {
  const s = trimLeftSpace(rest);
  if (s.charCodeAt(0) !== 0x5b) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  const out: string[] = [];
  for (const e of v) {
    if (typeof e !== 'string') throw NOT_STRING_ARRAY;
    out.push(LONE_SURROGATE.test(e) ? e.replace(LONE_SURROGATE, '\ufffd') : e);
    LONE_SURROGATE.lastIndex = 0;
  }
  return out;
}

/** RUN, CMD, ENTRYPOINT, SHELL: a JSON array of strings, or the whole rest as one argument. */
function maybeJSON(rest: string): ParsedArgs {
  if (rest === '') return NONE;
  const arr = parseJSONArray(rest);
  if (arr !== undefined) return { args: arr, json: true };
  return { args: [rest], json: false };
}

/** ADD, COPY, VOLUME: a JSON array of strings, or the rest split on whitespace. */
function maybeJSONToList(rest: string): ParsedArgs {
  const arr = parseJSONArray(rest);
  if (arr !== undefined) return { args: arr, json: true };
  return whitespaceDelimited(rest);
}

function whitespaceDelimited(rest: string): ParsedArgs {
  if (rest === '') return NONE;
  return { args: splitBlank(rest), json: false };
}

function healthConfig(rest: string): ParsedArgs {
  // Byte-wise like the Go code (unicode.IsSpace of single bytes).
  const ascii = !hasNonAscii(rest);
  const s = ascii ? rest : toByteString(rest);
  let sep = 0;
  while (sep < s.length && !isSpaceByte(s.charCodeAt(sep))) sep++;
  let next = sep;
  while (next < s.length && isSpaceByte(s.charCodeAt(next))) next++;
  if (sep === 0) return NONE;
  const typ = ascii ? s.slice(0, sep) : fromByteString(s.slice(0, sep));
  const cmd = maybeJSON(ascii ? s.slice(next) : fromByteString(s.slice(next)));
  return { args: [typ, ...cmd.args], json: cmd.json };
}

export type LineParserKind =
  | 'maybeJSON'
  | 'maybeJSONToList'
  | 'nameOrNameVal'
  | 'env'
  | 'label'
  | 'whitespace'
  | 'string'
  | 'health'
  | 'subcommand';

/** The dispatch table: instruction keyword (lower case) → how its arguments are parsed. */
export const DISPATCH: Readonly<Record<string, LineParserKind>> = {
  add: 'maybeJSONToList',
  arg: 'nameOrNameVal',
  cmd: 'maybeJSON',
  copy: 'maybeJSONToList',
  entrypoint: 'maybeJSON',
  env: 'env',
  expose: 'whitespace',
  from: 'whitespace',
  healthcheck: 'health',
  label: 'label',
  maintainer: 'string',
  onbuild: 'subcommand',
  run: 'maybeJSON',
  shell: 'maybeJSON',
  stopsignal: 'string',
  user: 'string',
  volume: 'maybeJSONToList',
  workdir: 'string',
};

/** Parses `rest` for every kind but `subcommand` (handled by the caller, which recurses). */
export function parseArgs(kind: Exclude<LineParserKind, 'subcommand'> | undefined, rest: string, escape: string): ParsedArgs {
  switch (kind) {
    case 'maybeJSON':
      return maybeJSON(rest);
    case 'maybeJSONToList':
      return maybeJSONToList(rest);
    case 'nameOrNameVal': {
      const words = parseWords(rest, escape);
      return words.length === 0 ? NONE : { args: words, json: false };
    }
    case 'env':
      return nameVal(rest, 'ENV', escape);
    case 'label':
      return nameVal(rest, 'LABEL', escape);
    case 'whitespace':
      return whitespaceDelimited(rest);
    case 'string':
      return rest === '' ? NONE : { args: [rest], json: false };
    case 'health':
      return healthConfig(rest);
    case undefined:
      // Unknown instruction: kept with one empty argument, rejected by the instruction layer.
      return { args: [''], json: false };
  }
}
