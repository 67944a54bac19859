/**
 * The streaming tar decoder (the format and the encoder are tar-format.ts). Hostile input is the normal case:
 * every number is range-checked, header checksums are verified, PAX and GNU long-name records are capped at
 * 1 MiB, a body shorter than its header says is InvalidLayerError, and the uncompressed stream is capped at
 * `maxBytes`. Every byte read, including what follows the end-of-archive marker, is hashed, so `digest()` is
 * the diffID once next() has returned null.
 */
import { decodeName, Hasher } from '../core/index.js';
import { InvalidLayerError } from './errors.js';
import { BLOCK, padding, type TarEntryType, type TarHeader } from './tar-format.js';

/**
 * Pulls bytes from an async iterable, hashing and counting every byte (for the diffID and the size
 * limit), and serves exact-length reads without copying where it can.
 */
class ByteSource {
  readonly hasher = new Hasher();
  #it: AsyncIterator<Buffer | Uint8Array | string>;
  #buf: Buffer[] = [];
  #len = 0;
  #eof = false;
  constructor(src: AsyncIterable<Buffer | Uint8Array | string>, readonly limit: number) {
    this.#it = src[Symbol.asyncIterator]();
  }
  get offset(): number { return this.hasher.size - this.#len; }
  async #pull(): Promise<boolean> {
    if (this.#eof) return false;
    const r = await this.#it.next();
    if (r.done) { this.#eof = true; return false; }
    const c = typeof r.value === 'string' ? Buffer.from(r.value) : Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.hasher.update(c);
    if (this.hasher.size > this.limit) {
      throw new InvalidLayerError(`uncompressed size exceeds the limit of ${this.limit} bytes (decompression bomb?)`);
    }
    if (c.length > 0) { this.#buf.push(c); this.#len += c.length; }
    return true;
  }
  /** Returns exactly n bytes, null at a clean EOF (no byte available); throws when truncated mid-read. */
  async readExact(n: number): Promise<Buffer | null> {
    if (n === 0) return Buffer.alloc(0); // an empty PAX or GNU long-name body: nothing to read (and #buf may be empty)
    while (this.#len < n) {
      if (!(await this.#pull())) {
        if (this.#len === 0) return null;
        throw new InvalidLayerError(`truncated archive at byte ${this.offset}: wanted ${n} bytes, got ${this.#len}`);
      }
    }
    const first = this.#buf[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#buf.shift(); else this.#buf[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let o = 0;
      while (o < n) {
        const c = this.#buf[0]!;
        const take = Math.min(c.length, n - o);
        c.copy(out, o, 0, take);
        o += take;
        if (take === c.length) this.#buf.shift(); else this.#buf[0] = c.subarray(take);
      }
    }
    this.#len -= n;
    return out;
  }
  /** Yields exactly n bytes in chunks; throws InvalidLayerError when the stream ends early. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#len === 0 && !(await this.#pull())) {
        throw new InvalidLayerError(`truncated archive at byte ${this.offset}: entry body is ${left} bytes short of its header size`);
      }
      const c = this.#buf[0];
      if (!c) continue;
      const take = Math.min(c.length, left);
      if (take === c.length) this.#buf.shift(); else this.#buf[0] = c.subarray(take);
      this.#len -= take;
      left -= take;
      yield take === c.length ? c : c.subarray(0, take);
    }
  }
  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n)) { /* discard */ }
  }
  /** Stops reading (releases the source iterator). */
  async close(): Promise<void> {
    await this.#it.return?.();
  }
  /** Consumes (and hashes) everything left. */
  async drain(): Promise<void> {
    this.#buf = [];
    this.#len = 0;
    while (await this.#pull()) { this.#buf = []; this.#len = 0; }
  }
}

function parseNumeric(b: Buffer, off: number, width: number, what: string): number {
  const f = b.subarray(off, off + width);
  if (f[0]! & 0x80) {
    // base-256 (GNU): big-endian, first byte 0x80 positive / 0xff negative
    if (f[0] === 0xff) throw new InvalidLayerError(`negative ${what} in tar header`);
    let v = f[0]! & 0x7f;
    for (let i = 1; i < width; i++) v = v * 256 + f[i]!;
    if (!Number.isSafeInteger(v)) throw new InvalidLayerError(`${what} out of range in tar header`);
    return v;
  }
  const s = f.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ \0]+/, '').split('\0')[0]!.trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new InvalidLayerError(`malformed ${what} ${JSON.stringify(s)} in tar header`);
  return parseInt(s, 8);
}

function cstr(b: Buffer, off: number, width: number): string {
  const f = b.subarray(off, off + width);
  const z = f.indexOf(0);
  return decodeName(z === -1 ? f : f.subarray(0, z));
}

function verifyChecksum(b: Buffer, at: number): void {
  const want = parseNumeric(b, 148, 8, 'checksum');
  let u = 0;
  let s = 0;
  for (let i = 0; i < BLOCK; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : b[i]!;
    u += v;
    s += v > 127 ? v - 256 : v;
  }
  if (want !== u && want !== s) throw new InvalidLayerError(`bad tar header checksum at byte ${at}`);
}

function parsePax(buf: Buffer, into: Map<string, Buffer>): void {
  let p = 0;
  while (p < buf.length) {
    if (buf[p] === 0) break;
    const sp = buf.indexOf(0x20, p);
    if (sp === -1) throw new InvalidLayerError('malformed PAX record (no length)');
    const len = Number(buf.subarray(p, sp).toString('latin1'));
    if (!Number.isSafeInteger(len) || len <= sp - p || p + len > buf.length || buf[p + len - 1] !== 0x0a) {
      throw new InvalidLayerError('malformed PAX record');
    }
    const rec = buf.subarray(sp + 1, p + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq === -1) throw new InvalidLayerError('malformed PAX record (no =)');
    into.set(rec.subarray(0, eq).toString('utf8'), Buffer.from(rec.subarray(eq + 1)));
    p += len;
  }
}

const TYPES: Record<number, TarEntryType> = {
  0x30: 'file', 0x00: 'file', 0x37: 'file', 0x31: 'link', 0x32: 'symlink', 0x33: 'char', 0x34: 'block', 0x35: 'dir', 0x36: 'fifo',
};

/** Largest uid/gid: Linux ids are 32-bit and (uid_t)-1 means "no change". */
const MAX_ID = 0xfffffffe;

/** Max bytes of a PAX or GNU long-name header we accept (a long name is at most PATH_MAX; xattrs are ≤ 64 KiB). */
const MAX_META = 1 << 20;

/**
 * A streaming tar decoder. Call next() for each entry; for a file, read its body with body() before the
 * next call to next() (unread bytes are skipped). Every byte, including what follows the end-of-archive
 * marker, is hashed: `diffId()` is valid after next() returned null.
 */
export class TarReader {
  #src: ByteSource;
  #pending = 0;      // body bytes of the current entry not yet consumed
  #padAfter = 0;     // padding after the current entry's body
  #global = new Map<string, Buffer>();
  #done = false;
  readonly #goEnd: boolean;

  /**
   * `end`: 'lenient' (default) ends the archive at the first zero block. 'go' follows Go's archive/tar (what
   * BuildKit's ADD extraction reads with): the end is a clean EOF where a header or an entry's padding would
   * start, one zero block then EOF, or two zero blocks; a partial block after a zero block is a truncated
   * archive, and a zero block followed by a non-zero one is an invalid header.
   */
  constructor(src: AsyncIterable<Buffer | Uint8Array | string>, o: { maxBytes?: number | undefined; end?: 'lenient' | 'go' | undefined } = {}) {
    this.#src = new ByteSource(src, o.maxBytes ?? Number.MAX_SAFE_INTEGER);
    this.#goEnd = o.end === 'go';
  }

  /** The sha256 and size of every byte read so far (the diffID once the archive is exhausted). */
  digest(): { digest: ReturnType<Hasher['digest']>; size: number } {
    return { digest: this.#src.hasher.digest(), size: this.#src.hasher.size };
  }

  /** Releases the underlying source (call when abandoning the archive early). */
  async close(): Promise<void> {
    await this.#src.close().catch(() => undefined);
  }

  /** Yields the current file entry's body, exactly `size` bytes; throws InvalidLayerError if truncated. */
  async *body(): AsyncGenerator<Buffer> {
    const n = this.#pending;
    this.#pending = 0;
    yield* this.#src.stream(n);
  }

  /** Marks the archive done after hashing whatever follows the end. */
  async #end(): Promise<null> {
    this.#done = true;
    await this.#src.drain();
    return null;
  }

  /** Returns the next entry, or null after the end-of-archive marker (or a clean EOF at a header boundary). */
  async next(): Promise<TarHeader | null> {
    if (this.#done) return null;
    if (this.#goEnd) {
      // Go reads the padding with tryReadFull: none of it at EOF is a clean end, part of it a truncated archive.
      await this.#src.skip(this.#pending);
      const pad = this.#padAfter;
      this.#pending = 0;
      this.#padAfter = 0;
      if (pad > 0 && (await this.#src.readExact(pad)) === null) return this.#end();
    } else {
      await this.#src.skip(this.#pending + this.#padAfter);
      this.#pending = 0;
      this.#padAfter = 0;
    }
    const local = new Map<string, Buffer>();
    let longName: string | undefined;
    let longLink: string | undefined;
    let pendingExtended = false; // a PAX 'x' or GNU 'L'/'K' header was read: its entry must follow
    for (;;) {
      const at = this.#src.offset;
      const block = await this.#src.readExact(BLOCK);
      if (block === null || block.every((x) => x === 0)) {
        if (pendingExtended) throw new InvalidLayerError(`archive ends at byte ${at} after an extended header, before the entry it describes`);
        if (block !== null && this.#goEnd) {
          const second = await this.#src.readExact(BLOCK); // throws when only part of a block is left
          if (second !== null && !second.every((x) => x === 0)) {
            throw new InvalidLayerError(`invalid tar header at byte ${at + BLOCK}: a zero block is followed by a non-zero block`);
          }
        }
        return this.#end();
      }
      verifyChecksum(block, at);
      const tf = block[156]!;
      let size = parseNumeric(block, 124, 12, 'size');
      if (tf === 0x78 || tf === 0x67 || tf === 0x4c || tf === 0x4b) {
        if (size > MAX_META) throw new InvalidLayerError(`extended header of ${size} bytes at byte ${at} is too large`);
        const data = (await this.#src.readExact(size)) ?? Buffer.alloc(0);
        if (data.length !== size) throw new InvalidLayerError(`truncated extended header at byte ${at}`);
        await this.#src.skip(padding(size).length);
        if (tf !== 0x67) pendingExtended = true;
        if (tf === 0x78) parsePax(data, local);
        else if (tf === 0x67) parsePax(data, this.#global);
        else if (tf === 0x4c) longName = cstr(data, 0, data.length);
        else longLink = cstr(data, 0, data.length);
        continue;
      }
      const pax = new Map([...this.#global, ...local]);
      const type = TYPES[tf];
      if (type === undefined) throw new InvalidLayerError(`unsupported tar entry type ${JSON.stringify(String.fromCharCode(tf))} at byte ${at}`);
      const magic = block.subarray(257, 263).toString('latin1');
      let name = cstr(block, 0, 100);
      if (magic === 'ustar\0' && block[345] !== 0) name = `${cstr(block, 345, 155)}/${name}`;
      // Names are bytes (core/file-names.ts): UTF-8 or not, with or without `hdrcharset=BINARY`.
      const paxPath = pax.get('path');
      const paxLink = pax.get('linkpath');
      name = paxPath !== undefined ? decodeName(paxPath) : longName ?? name;
      const linkname = paxLink !== undefined ? decodeName(paxLink) : longLink ?? cstr(block, 157, 100);
      // PAX numbers are decimal: integers, except times which may have a fraction (as Go's archive/tar reads them)
      const num = (k: string, fallback: number): number => {
        const v = pax.get(k);
        if (v === undefined) return fallback;
        const t = v.toString('latin1');
        const n = Number(t);
        if (!(k === 'mtime' ? /^[0-9]+(\.[0-9]+)?$/ : /^[0-9]+$/).test(t) || !Number.isFinite(n)) {
          throw new InvalidLayerError(`malformed PAX ${k} ${JSON.stringify(t.slice(0, 40))} at byte ${at}`);
        }
        return n;
      };
      const id = (k: 'uid' | 'gid', off: number): number => {
        const n = num(k, parseNumeric(block, off, 8, k));
        if (!Number.isSafeInteger(n) || n > MAX_ID) throw new InvalidLayerError(`${k} ${n} out of range at byte ${at}`);
        return n;
      };
      size = num('size', size);
      if (!Number.isSafeInteger(size)) throw new InvalidLayerError(`malformed size at byte ${at}`);
      const xattrs = new Map<string, Buffer>();
      for (const [k, v] of pax) if (k.startsWith('SCHILY.xattr.')) xattrs.set(k.slice('SCHILY.xattr.'.length), v);
      const h: TarHeader = {
        name,
        type: type === 'file' && name.endsWith('/') ? 'dir' : type,
        mode: parseNumeric(block, 100, 8, 'mode') & 0o7777,
        uid: id('uid', 108),
        gid: id('gid', 116),
        size,
        mtime: num('mtime', parseNumeric(block, 136, 12, 'mtime')),
        linkname: linkname === '' ? undefined : linkname,
        devmajor: parseNumeric(block, 329, 8, 'devmajor'),
        devminor: parseNumeric(block, 337, 8, 'devminor'),
        xattrs,
      };
      // Per the format, only regular files carry a body; anything else with a size has its data skipped.
      this.#pending = size;
      this.#padAfter = padding(size).length;
      return h;
    }
  }
}
