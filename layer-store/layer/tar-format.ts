/**
 * The tar wire format (POSIX ustar + PAX extended headers): the entry model, the block constants and the
 * encoder (encodeHeader writes a deterministic, minimal header set: ustar when the entry fits, PAX records
 * only for what does not). The streaming decoder is tar-reader.ts.
 *
 * Why our own codec instead of tar-stream 3.x: tar-stream encodes and decodes PAX records as UTF-8 strings,
 * so a binary xattr value (every `security.capability` is binary) is corrupted in both directions; its
 * reader ignores PAX `uid`/`gid`/`mtime`; and its writer cannot emit a deterministic, minimal header set.
 * The format itself is small (one 512-byte header, optional PAX records), so we keep it here, byte exact.
 */
import { encodeName } from '../core/index.js';

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One tar entry's metadata (the body, for files, follows separately). mtime is in seconds. */
export interface TarHeader {
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string | undefined;
  devmajor?: number | undefined;
  devminor?: number | undefined;
  /** Extended attributes, name → raw bytes (PAX `SCHILY.xattr.<name>`). */
  xattrs?: ReadonlyMap<string, Buffer> | undefined;
}

const TYPEFLAG: Record<TarEntryType, number> = {
  file: 0x30, link: 0x31, symlink: 0x32, char: 0x33, block: 0x34, dir: 0x35, fifo: 0x36,
};

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;
export const BLOCK = 512;
export const ZERO_BLOCK = Buffer.alloc(BLOCK);

function isAscii(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /^[\x01-\x7f]*$/.test(s);
}

function writeOctal(buf: Buffer, off: number, width: number, v: number): void {
  const s = Math.max(0, Math.floor(v)).toString(8).padStart(width - 1, '0');
  buf.write(s, off, width - 1, 'latin1');
  buf[off + width - 1] = 0;
}

/** Splits an ASCII path into ustar (prefix, name) when it fits, else undefined. */
function splitUstar(name: string): [string, string] | undefined {
  if (name.length <= 100) return ['', name];
  if (name.length > 256) return undefined;
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) {
      // choose the split with the longest name part (first fitting slash from the left)
      let best: [string, string] = [prefix, rest];
      for (let j = 1; j < i; j++) {
        if (name[j] !== '/') continue;
        const p = name.slice(0, j);
        const r = name.slice(j + 1);
        if (p.length <= 155 && r.length <= 100) { best = [p, r]; break; }
      }
      return best;
    }
  }
  return undefined;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.byteLength(key) + value.length + 3; // ' ' '=' '\n'
  let len = body + String(body).length;
  if (String(len).length !== String(body).length) len = body + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`, 'utf8'), value, Buffer.from('\n')]);
}

function ustarBlock(h: {
  name: string; prefix: string; mode: number; uid: number; gid: number; size: number; mtime: number;
  typeflag: number; linkname: string; devmajor: number; devminor: number;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  writeOctal(b, 100, 8, h.mode & 0o7777);
  writeOctal(b, 108, 8, h.uid);
  writeOctal(b, 116, 8, h.gid);
  writeOctal(b, 124, 12, h.size);
  writeOctal(b, 136, 12, h.mtime);
  b.fill(0x20, 148, 156);
  b[156] = h.typeflag;
  b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\u000000', 257, 8, 'latin1');
  writeOctal(b, 329, 8, h.devmajor);
  writeOctal(b, 337, 8, h.devminor);
  b.write(h.prefix, 345, 155, 'utf8');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  b[154] = 0;
  b[155] = 0x20;
  return b;
}

/**
 * Returns the header block(s) for `h`: a PAX header (only when needed: long or non-ASCII names,
 * ids over 7 octal digits, sizes over 11 octal digits, xattrs) followed by the ustar header.
 * Output is a pure function of `h` (uname/gname empty, PAX records in a fixed order, xattrs sorted).
 */
export function encodeHeader(h: TarHeader): Buffer {
  const records: Buffer[] = [];
  // A name that is not UTF-8 (core/file-names.ts) goes into the PAX `path`/`linkpath` record as its raw bytes, as
  // GNU tar 1.34 and Go's archive/tar (BuildKit, umoci) write it. No `hdrcharset=BINARY`: neither writes it, and
  // GNU tar 1.34 warns "Ignoring unknown extended header keyword" on reading it.
  let split = isAscii(h.name) ? splitUstar(h.name) : undefined;
  if (!split) {
    const bytes = encodeName(h.name);
    records.push(paxRecord('path', bytes));
    split = ['', bytes.subarray(0, 100).toString('latin1').replace(/[^\x20-\x7e]/g, '_')];
  }
  let linkname = h.linkname ?? '';
  if (linkname && (!isAscii(linkname) || linkname.length > 100)) {
    records.push(paxRecord('linkpath', encodeName(linkname)));
    linkname = linkname.replace(/[^\x20-\x7e]/g, '_').slice(0, 100);
  }
  let uid = h.uid;
  let gid = h.gid;
  let size = h.size;
  if (uid > MAX_OCTAL_7) { records.push(paxRecord('uid', Buffer.from(String(uid)))); uid = 0; }
  if (gid > MAX_OCTAL_7) { records.push(paxRecord('gid', Buffer.from(String(gid)))); gid = 0; }
  if (size > MAX_OCTAL_11) { records.push(paxRecord('size', Buffer.from(String(size)))); size = 0; }
  if (h.xattrs && h.xattrs.size > 0) {
    for (const k of [...h.xattrs.keys()].sort()) records.push(paxRecord(`SCHILY.xattr.${k}`, h.xattrs.get(k)!));
  }
  const mtime = Math.min(Math.max(0, Math.floor(h.mtime)), MAX_OCTAL_11);
  const main = ustarBlock({
    name: split[1], prefix: split[0], mode: h.mode, uid, gid, size, mtime, typeflag: TYPEFLAG[h.type], linkname,
    devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0,
  });
  if (records.length === 0) return main;
  const pax = Buffer.concat(records);
  const paxHead = ustarBlock({
    name: 'PaxHeader', prefix: '', mode: 0o644, uid: 0, gid: 0, size: pax.length, mtime, typeflag: 0x78,
    linkname: '', devmajor: 0, devminor: 0,
  });
  return Buffer.concat([paxHead, pax, padding(pax.length), main]);
}

/** Returns the zero padding that follows `size` bytes of body. */
export function padding(size: number): Buffer {
  const r = size % BLOCK;
  return r === 0 ? Buffer.alloc(0) : ZERO_BLOCK.subarray(0, BLOCK - r);
}

/** End-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

/**
 * True when `h` starts with a tar header as Go's archive/tar recognises one (BuildKit's isArchivePath, docker's
 * context detection): a whole block whose checksum field, trimmed of spaces and NULs, matches its bytes (summed
 * unsigned or signed, the field counted as spaces), in any format (V7, ustar, PAX, GNU); a zero block is the end
 * of an archive, not a header.
 */
export function isTarHeader(h: Uint8Array): boolean {
  if (h.length < BLOCK || h.subarray(0, BLOCK).every((b) => b === 0)) return false;
  const field = Buffer.from(h.subarray(148, 156)).toString('latin1').replace(/^[ \0]+|[ \0]+$/g, '');
  if (!/^[0-7]+$/.test(field)) return false;
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : h[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  const want = parseInt(field, 8);
  return want === unsigned || want === signed;
}
