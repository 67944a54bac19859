/**
 * The build information the Go linker embeds in an executable (what `go version -m` prints), read from ELF
 * files as Go's debug/buildinfo reads it: a 32-byte header (`\xff Go buildinf:`, pointer size, flags) at a
 * 16-byte boundary in the first 64 KiB of the `.go.buildinfo` section (else of the first writable, non-executable
 * PT_LOAD segment). Go ≥ 1.18 (flag bit 2) follows the header with two varint-length strings, the Go version
 * and the module info; older binaries hold two pointers to Go string headers instead. The module info is
 * framed by 16-byte sentinels and parsed as runtime/debug.ParseBuildInfo does. PE and Mach-O are not read.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { fsPath } from '../../../layer-store/core/index.js';

export interface GoModule {
  readonly path: string;
  readonly version: string;
  readonly sum?: string | undefined;
  /** The `=>` replacement, when the module was replaced. */
  readonly replace?: GoModule | undefined;
}

export interface GoBuildInfo {
  /** The toolchain, e.g. `go1.19.8`. */
  readonly goVersion: string;
  /** The main package's import path. */
  readonly path?: string | undefined;
  readonly main?: GoModule | undefined;
  readonly deps: readonly GoModule[];
  readonly settings: ReadonlyMap<string, string>;
}

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const ALIGN = 16;
const HEADER = 32;
const SEARCH = 64 * 1024;

interface Segment { vaddr: bigint; offset: bigint; filesz: bigint; flags: number; type: number }

/** Returns the build info of the ELF file `path`, or undefined when it is not an ELF Go executable. */
export async function readGoBuildInfo(path: string): Promise<GoBuildInfo | undefined> {
  const fh = await open(fsPath(path), 'r');
  try {
    const raw = await readRaw(fh);
    if (!raw) return undefined;
    return parseModInfo(raw.vers, raw.mod);
  } finally {
    await fh.close();
  }
}

async function readAt(fh: FileHandle, pos: bigint, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  const { bytesRead } = await fh.read(b, 0, len, Number(pos));
  return b.subarray(0, bytesRead);
}

async function readRaw(fh: FileHandle): Promise<{ vers: string; mod: string } | undefined> {
  const ident = await readAt(fh, 0n, 64);
  if (ident.length < 52 || ident.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = ident[4] === 2;
  const le = ident[5] !== 2;
  const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const addr = (b: Buffer, o: number): bigint => (is64 ? (le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : BigInt(u32(b, o)));
  const phoff = addr(ident, is64 ? 0x20 : 0x1c);
  const shoff = addr(ident, is64 ? 0x28 : 0x20);
  const phentsize = u16(ident, is64 ? 0x36 : 0x2a);
  const phnum = u16(ident, is64 ? 0x38 : 0x2c);
  const shentsize = u16(ident, is64 ? 0x3a : 0x2e);
  const shnum = u16(ident, is64 ? 0x3c : 0x30);
  const shstrndx = u16(ident, is64 ? 0x3e : 0x32);
  if (phnum > 4096 || shnum > 65535) return undefined;

  const segs: Segment[] = [];
  const ph = await readAt(fh, phoff, phentsize * phnum);
  for (let i = 0; i < phnum && (i + 1) * phentsize <= ph.length; i++) {
    const o = i * phentsize;
    segs.push(is64
      ? { type: u32(ph, o), flags: u32(ph, o + 4), offset: addr(ph, o + 8), vaddr: addr(ph, o + 16), filesz: addr(ph, o + 32) }
      : { type: u32(ph, o), offset: addr(ph, o + 4), vaddr: addr(ph, o + 8), filesz: addr(ph, o + 16), flags: u32(ph, o + 24) });
  }
  const readData = async (va: bigint, size: number): Promise<Buffer | undefined> => {
    for (const s of segs) {
      if (s.type !== 1 || s.filesz === 0n || va < s.vaddr || va >= s.vaddr + s.filesz) continue;
      const n = s.vaddr + s.filesz - va;
      return readAt(fh, s.offset + (va - s.vaddr), Number(n < BigInt(size) ? n : BigInt(size)));
    }
    return undefined;
  };

  let dataStart: bigint | undefined;
  if (shnum > 0 && shoff > 0n) {
    const sh = await readAt(fh, shoff, shentsize * shnum);
    const sec = (i: number): { name: number; addr: bigint; offset: bigint; size: bigint } => {
      const o = i * shentsize;
      return is64
        ? { name: u32(sh, o), addr: addr(sh, o + 16), offset: addr(sh, o + 24), size: addr(sh, o + 32) }
        : { name: u32(sh, o), addr: addr(sh, o + 12), offset: addr(sh, o + 16), size: addr(sh, o + 20) };
    };
    if (sh.length >= shentsize * shnum && shstrndx < shnum) {
      const strs = sec(shstrndx);
      const names = await readAt(fh, strs.offset, Number(strs.size < 1n << 20n ? strs.size : 1n << 20n));
      for (let i = 0; i < shnum; i++) {
        const s = sec(i);
        const end = names.indexOf(0, s.name);
        if (names.toString('latin1', s.name, end < 0 ? undefined : end) === '.go.buildinfo') { dataStart = s.addr; break; }
      }
    }
  }
  dataStart ??= segs.find((s) => s.type === 1 && (s.flags & 3) === 2)?.vaddr;
  if (dataStart === undefined) return undefined;
  let data = await readData(dataStart, SEARCH);
  if (!data) return undefined;
  for (;;) {
    const i = data.indexOf(MAGIC);
    if (i < 0 || data.length - i < HEADER) return undefined;
    if (i % ALIGN === 0) { data = data.subarray(i); break; }
    data = data.subarray((i + ALIGN - 1) & ~(ALIGN - 1));
  }
  const ptrSize = data[14]!;
  const flags = data[15]!;
  let vers: string;
  let mod: string;
  if (flags & 2) {
    const [v, rest] = varintString(data.subarray(HEADER));
    vers = v;
    mod = varintString(rest)[0];
  } else {
    const big = flags !== 0;
    const ptr = (b: Buffer, o: number): bigint => (ptrSize === 4 ? BigInt(big ? b.readUInt32BE(o) : b.readUInt32LE(o)) : big ? b.readBigUInt64BE(o) : b.readBigUInt64LE(o));
    const str = async (at: bigint): Promise<string> => {
      const hdr = await readData(at, 2 * ptrSize);
      if (!hdr || hdr.length < 2 * ptrSize) return '';
      const len = ptr(hdr, ptrSize);
      if (len > 16n * 1024n * 1024n) return '';
      const b = await readData(ptr(hdr, 0), Number(len));
      return b && BigInt(b.length) === len ? b.toString('utf8') : '';
    };
    vers = await str(ptr(data, 16));
    mod = await str(ptr(data, 16 + ptrSize));
  }
  if (vers === '') return undefined;
  mod = mod.length >= 33 && mod[mod.length - 17] === '\n' ? mod.slice(16, -16) : '';
  return { vers, mod };
}

/** Returns a uvarint-length-prefixed string and the bytes after it (empty when malformed, as Go's decodeString). */
function varintString(b: Buffer): [string, Buffer] {
  let n = 0;
  let shift = 0;
  let i = 0;
  for (; i < b.length && i < 10; i++) {
    n += (b[i]! & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b[i]! & 0x80) === 0) break;
  }
  i++;
  if (i > b.length || n >= b.length - i) return ['', Buffer.alloc(0)];
  return [b.toString('utf8', i, i + n), b.subarray(i + n)];
}

/** Returns the module info text parsed as runtime/debug.ParseBuildInfo does (unknown lines ignored). Pure. */
export function parseModInfo(goVersion: string, text: string): GoBuildInfo {
  let path: string | undefined;
  let main: GoModule | undefined;
  const deps: GoModule[] = [];
  const settings = new Map<string, string>();
  let last: 'main' | 'dep' | undefined;
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    const mod = (): GoModule => ({ path: f[1] ?? '', version: f[2] ?? '', sum: f[3] || undefined });
    switch (f[0]) {
      case 'path': path = f[1]; last = undefined; break;
      case 'mod': main = mod(); last = 'main'; break;
      case 'dep': deps.push(mod()); last = 'dep'; break;
      case '=>':
        if (last === 'main' && main) main = { ...main, replace: mod() };
        else if (last === 'dep' && deps.length > 0) deps[deps.length - 1] = { ...deps.at(-1)!, replace: mod() };
        last = undefined;
        break;
      case 'build': {
        const kv = f.slice(1).join('\t');
        const eq = kv.indexOf('=');
        if (eq > 0) settings.set(unquote(kv.slice(0, eq)), unquote(kv.slice(eq + 1)));
        break;
      }
      default: break;
    }
  }
  return { goVersion, path, main, deps, settings };
}

function unquote(s: string): string {
  if (!s.startsWith('"')) return s;
  try { return JSON.parse(s) as string; } catch { return s; }
}
