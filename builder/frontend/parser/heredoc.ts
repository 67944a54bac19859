/**
 * Heredoc detection as BuildKit's parser does it (`heredocsFromLine`, `ParseHeredoc`): the logical line is
 * split into words by the shell lexer (quotes and escapes kept, unset variables left as written), and every
 * word of the form `[N]<<[-][ ]NAME` is a heredoc. The name is lexed twice (quotes removed / kept): if the
 * quote counts differ, part of the name was quoted and the body is not expanded.
 */
import { heredocWords } from '../shell/lexer.js';
import { LexError } from '../shell/limits.js';

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

/** BuildKit's reHeredoc, `^(\d*)<<(-?)\s*([^<]*)$` (Go's `\d` is ASCII, its `\s` is `[\t\n\f\r ]`). */
const HEREDOC_WORD = /^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

function countQuotes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x27) n++;
  }
  return n;
}

/** Returns the words of `text` as the heredoc scan lexes them; a LexError becomes a HeredocLexError. */
function lex(text: string, rawQuotes: boolean, rawEscapes: boolean): string[] {
  try {
    return heredocWords(text, { rawQuotes, rawEscapes });
  } catch (e) {
    if (e instanceof LexError) throw new HeredocLexError(e.message);
    throw e;
  }
}

/**
 * Parses one word as a heredoc header (`<<EOF`, `<<-EOF`, `3<<EOF`, `<< EOF`, `<<'EOF'`).
 * Returns undefined when the word is not a heredoc; throws HeredocLexError for a malformed name.
 */
export function parseHeredocWord(word: string): HeredocHeader | undefined {
  const m = HEREDOC_WORD.exec(word);
  if (m === null) return undefined;
  const [, fd, dash, rest] = m as unknown as [string, string, string, string];
  if (rest === '') return undefined;

  const words = lex(rest, false, false);
  if (words.length !== 1) return undefined;
  const raw = lex(rest, true, false);
  if (raw.length !== words.length) {
    throw new HeredocLexError(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  }
  const name = words[0]!;
  return {
    name,
    expand: countQuotes(name) === countQuotes(raw[0]!),
    chomp: dash === '-',
    fileDescriptor: fd === '' ? 0 : Number(fd),
  };
}

/** All heredoc headers on a logical line, in order (none when the line does not lex). */
export function heredocsFromLine(line: string): HeredocHeader[] {
  let words: string[];
  try {
    words = heredocWords(line, { rawQuotes: true, rawEscapes: true });
  } catch (e) {
    if (e instanceof LexError) return [];
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
