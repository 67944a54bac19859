/**
 * File names are bytes: the one conversion between a Linux path's bytes and the string tsbuild carries.
 *
 * A name is a JS string that is exactly its UTF-8 decoding when the bytes are valid UTF-8 (so `ü`, emoji and
 * every ASCII name are the strings they always were), and otherwise maps each byte that is not part of a valid
 * UTF-8 sequence to the lone low surrogate U+DC00+byte (U+DC80..U+DCFF), as Python's `surrogateescape` does
 * (PEP 383). Valid UTF-8 never decodes to a lone surrogate, so the mapping is lossless both ways, and a
 * well-formed string never holds an escape. Node's fs APIs take such strings lossily (a lone surrogate is
 * written as U+FFFD), so every fs call whose path may hold an escape goes through `fsPath`, and names read
 * from disk through `decodeName` (see layer-store/layer/fs-names.ts for readdir/readlink).
 */
import { TsbuildError } from './errors.js';

const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ESCAPE_BASE = 0xdc00;

/** Returns true when `s` holds no lone surrogate (then its bytes are `Buffer.from(s, 'utf8')`). */
export function isPlainName(s: string): boolean {
  return !SURROGATE.test(s) || !LONE_SURROGATE.test(s); // the first test alone answers for almost every path
}

/** Returns the length of the valid UTF-8 sequence starting at `b[i]` (Unicode table 3-7), or 0 when there is none. */
function utf8SeqLength(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (c >= 0xe1 && c <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

/** Returns the name for the bytes `b`: their UTF-8 decoding, with each byte outside a valid sequence as U+DC00+byte. */
export function decodeName(b: Uint8Array): string {
  const fast = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
  if (!fast.includes('\uFFFD')) return fast;
  let out = '';
  let start = 0; // start of the pending run of valid bytes
  let i = 0;
  const flush = (end: number): void => {
    if (end > start) out += Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');
  };
  while (i < b.length) {
    const n = utf8SeqLength(b, i);
    if (n > 0) { i += n; continue; }
    flush(i);
    out += String.fromCharCode(ESCAPE_BASE + b[i]!);
    start = ++i;
  }
  flush(i);
  return out;
}

/** A string that is no name decodeName can return (a lone surrogate outside U+DC80..U+DCFF): it has no bytes. */
export class UnrepresentableNameError extends TsbuildError {
  constructor(readonly nameShown: string) {
    super('UNSUPPORTED', `the file name ${nameShown} cannot be written as bytes (it holds a lone UTF-16 surrogate)`, {
      hint: 'file names come from the file system or from UTF-8 text; pass the name as it was read',
    });
    this.name = 'UnrepresentableNameError';
  }
}

/** Returns the bytes of the name `s` (the inverse of decodeName). Throws UnrepresentableNameError for a lone surrogate that is not an escape. */
export function encodeName(s: string): Buffer {
  if (isPlainName(s)) return Buffer.from(s, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; } // a valid pair
      throw new UnrepresentableNameError(quoteName(s));
    }
    if (c < 0xdc80 || c > 0xdcff) throw new UnrepresentableNameError(quoteName(s));
    parts.push(Buffer.from(s.slice(start, i), 'utf8'), Buffer.of(c - ESCAPE_BASE));
    start = i + 1;
  }
  parts.push(Buffer.from(s.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** Returns what to hand Node's fs for the path `p`: `p` itself when it holds no escape (the common case), else its bytes. */
export function fsPath(p: string): string | Buffer {
  return isPlainName(p) ? p : encodeName(p);
}

/** Orders names by their bytes (Go's order, and GNU tar's `--sort=name`). */
export function compareNameBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    const sx = x >= 0xd800 && x <= 0xdfff;
    const sy = y >= 0xd800 && y <= 0xdfff;
    if ((sx || sy) && (!isPlainName(a) || !isPlainName(b))) return Buffer.compare(encodeName(a), encodeName(b));
    // Surrogate pairs (code points above U+FFFF) sort after U+E000-FFFF in UTF-8.
    if (x >= 0xd800) x = sx ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = sy ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}

/** The one name order of tsbuild (tar entries, context walks, cache prints): by the names' bytes, Go's string order. */
export const compareNames: (a: string, b: string) => number = compareNameBytes;

/** Returns `s` for messages: each escaped byte shown as `\xNN` (e.g. `caf\xe9.txt`); other characters as they are. */
export function showName(s: string): string {
  if (isPlainName(s)) return s;
  return s.replace(/(?<![\uD800-\uDBFF])[\uDC80-\uDCFF]/g, (c) => `\\x${(c.charCodeAt(0) - ESCAPE_BASE).toString(16)}`);
}

/** Returns `s` JSON-quoted for messages, each escaped byte as `\xNN` (unambiguous: a real backslash is `\\`). */
export function quoteName(s: string): string {
  const q = JSON.stringify(s);
  if (isPlainName(s)) return q;
  return q.replace(/\\(\\|udc[89a-f][0-9a-f])/g, (m, g: string) => (g === '\\' ? m : `\\x${g.slice(3)}`));
}
