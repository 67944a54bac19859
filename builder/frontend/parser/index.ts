/**
 * The Dockerfile parser (syntax layer): bytes or text → DockerfileAst, exactly as BuildKit's
 * `frontend/dockerfile/parser` splits it, and `dumpAst` for BuildKit's `Node.Dump` format.
 * Pure: no I/O, no global state.
 */
import { DockerfileError } from '../errors.js';
import type { DockerfileAst, InstructionNode } from './ast.js';
import { goQuote } from './quote.js';
import { parseText } from './scan.js';

export type * from './ast.js';
export { goQuote } from './quote.js';
export { chompHeredocContent, parseHeredocWord } from './heredoc.js';
export { MAX_LINE_BYTES } from './scan.js';

export interface ParseOptions {
  /** The file name used in error locations and `ast.file` (default `Dockerfile`). */
  readonly file?: string;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Byte offset of the first invalid UTF-8 sequence, or -1. */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = c & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

function decode(bytes: Uint8Array, file: string): string {
  try {
    // The BOM is kept here and dropped (once) by the scanner, like BuildKit.
    return decoder.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
    throw new DockerfileError('DOCKERFILE_ENCODING', `invalid UTF-8 at byte ${at} (line ${line})`, {
      hint: 'save the Dockerfile as UTF-8 (e.g. `iconv -f LATIN1 -t UTF-8`); other encodings are not supported',
      location: { file, line },
    });
  }
}

/**
 * Parses a Dockerfile. Bytes must be UTF-8 (a BOM is dropped). Throws DockerfileError with
 * `{file, line}` for: invalid UTF-8, repeated or invalid parser directives, lines over 65,535
 * bytes, unterminated heredocs, JSON arrays of non-strings, ENV/LABEL without values, and a file
 * with no instructions. Unknown instruction words are kept (rejected by the instruction layer).
 */
export function parseDockerfile(input: string | Uint8Array, o: ParseOptions = {}): DockerfileAst {
  const file = o.file ?? 'Dockerfile';
  const text = typeof input === 'string' ? input : decode(input, file);
  return parseText(text, file);
}

/**
 * Throws DockerfileError when the Dockerfile has zero bytes, as BuildKit's dockerfile2llb does before parsing
 * (builds, outline, lint): "the Dockerfile cannot be empty". A blank or comment-only file passes here and fails
 * in the parser with "file with no instructions"; `targets` (ListTargets) only parses, so it keeps that message.
 */
export function assertDockerfileNotEmpty(input: string | Uint8Array, file = 'Dockerfile'): void {
  if (input.length === 0) {
    throw new DockerfileError('DOCKERFILE_SYNTAX', 'the Dockerfile cannot be empty', { hint: 'add at least a FROM instruction', location: { file, line: 1 } });
  }
}

function dumpNode(n: InstructionNode): string {
  let s = n.cmd;
  if (n.flags.length > 0) s += ` [${n.flags.map(goQuote).join(' ')}]`;
  if (n.next !== undefined) return `${s} (${dumpNode(n.next)})`;
  for (const a of n.args) s += ' ' + goQuote(a);
  return s;
}

/**
 * BuildKit's `Node.Dump` of the root plus the trailing newline its tests append: one
 * `(keyword ["--flag"…] "arg"…)` line per instruction, strings quoted like Go's strconv.Quote.
 * The output equals the `result` files of BuildKit's parser test corpus byte for byte.
 */
export function dumpAst(ast: DockerfileAst): string {
  const out: string[] = [];
  for (const c of ast.children) out.push(`(${dumpNode(c)})`);
  return out.join('\n') + '\n';
}
