/**
 * Minimal ELF64 little-endian executables holding Go build info, written byte by byte as the Go linker lays
 * it out (cmd/link's buildinfo; read back by debug/buildinfo): no machine has a Go toolchain here, and Debian's
 * Go binaries are built without modules, so module-mode binaries are made from their parts.
 * - 'inline' (Go ≥ 1.18): a `.go.buildinfo` section with the 32-byte header (flags bit 2) followed by the
 *   uvarint-length version and module-info strings.
 * - 'pointers' (Go < 1.18): no section headers at all (found through the first writable PT_LOAD); the header
 *   holds two pointers to Go string headers (data pointer, length) elsewhere in the segment.
 */

export const INFO_START = Buffer.from('3077af0c9274080241e1c107e6d618e6', 'hex'); // cmd/go's modload infoStart
export const INFO_END = Buffer.from('f932433186182072008242104116d8f2', 'hex');   // and infoEnd

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const VADDR = 0x400000n;
const DATA_OFF = 0x1000;

function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
}

/** Returns the bytes of an ELF executable whose build info is Go version `goVersion` and module info `modinfo` (unframed text). */
export function goElf(goVersion: string, modinfo: string, layout: 'inline' | 'pointers'): Buffer {
  const mod = Buffer.concat([INFO_START, Buffer.from(modinfo, 'utf8'), INFO_END]);
  const vers = Buffer.from(goVersion, 'utf8');
  const header = Buffer.alloc(32);
  MAGIC.copy(header, 0);
  header[14] = 8;
  let data: Buffer;
  if (layout === 'inline') {
    header[15] = 2;
    data = Buffer.concat([header, uvarint(vers.length), vers, uvarint(mod.length), mod, Buffer.alloc(16)]);
  } else {
    header[15] = 0;
    // header (32) | string header for vers (16) | for mod (16) | vers bytes | mod bytes
    const base = VADDR + BigInt(DATA_OFF);
    const versAt = base + 64n;
    const modAt = versAt + BigInt(vers.length);
    const sh = Buffer.alloc(32);
    sh.writeBigUInt64LE(versAt, 0); sh.writeBigUInt64LE(BigInt(vers.length), 8);
    sh.writeBigUInt64LE(modAt, 16); sh.writeBigUInt64LE(BigInt(mod.length), 24);
    header.writeBigUInt64LE(base + 32n, 16);
    header.writeBigUInt64LE(base + 48n, 24);
    data = Buffer.concat([header, sh, vers, mod]);
  }
  const shstr = Buffer.from('\0.go.buildinfo\0.shstrtab\0', 'latin1');
  const withSections = layout === 'inline';
  const shstrOff = DATA_OFF + data.length;
  const shOff = (shstrOff + shstr.length + 7) & ~7;
  const total = withSections ? shOff + 3 * 64 : DATA_OFF + data.length;
  const f = Buffer.alloc(total);
  // ELF header
  f.write('\x7fELF', 0, 'latin1'); f[4] = 2; f[5] = 1; f[6] = 1;
  f.writeUInt16LE(2, 16); f.writeUInt16LE(0x3e, 18); f.writeUInt32LE(1, 20);
  f.writeBigUInt64LE(VADDR + BigInt(DATA_OFF), 24); // entry (unused)
  f.writeBigUInt64LE(64n, 32);                       // e_phoff
  f.writeBigUInt64LE(withSections ? BigInt(shOff) : 0n, 40); // e_shoff
  f.writeUInt16LE(64, 52); f.writeUInt16LE(56, 54); f.writeUInt16LE(1, 56);
  f.writeUInt16LE(64, 58); f.writeUInt16LE(withSections ? 3 : 0, 60); f.writeUInt16LE(withSections ? 2 : 0, 62);
  // one PT_LOAD, read+write (not executable): Go's fallback for the data start
  f.writeUInt32LE(1, 64); f.writeUInt32LE(6, 68);
  f.writeBigUInt64LE(BigInt(DATA_OFF), 72); f.writeBigUInt64LE(VADDR + BigInt(DATA_OFF), 80); f.writeBigUInt64LE(VADDR + BigInt(DATA_OFF), 88);
  f.writeBigUInt64LE(BigInt(data.length), 96); f.writeBigUInt64LE(BigInt(data.length), 104); f.writeBigUInt64LE(0x1000n, 112);
  data.copy(f, DATA_OFF);
  if (withSections) {
    shstr.copy(f, shstrOff);
    const sec = (i: number, name: number, type: number, addr: bigint, off: number, size: number): void => {
      const o = shOff + i * 64;
      f.writeUInt32LE(name, o); f.writeUInt32LE(type, o + 4); f.writeBigUInt64LE(addr, o + 16);
      f.writeBigUInt64LE(BigInt(off), o + 24); f.writeBigUInt64LE(BigInt(size), o + 32);
    };
    sec(1, 1, 1, VADDR + BigInt(DATA_OFF), DATA_OFF, data.length); // .go.buildinfo (PROGBITS)
    sec(2, 15, 3, 0n, shstrOff, shstr.length);                      // .shstrtab (STRTAB)
  }
  return f;
}

/** Returns the module-info text between the sentinels in `binary` (a Go program's runtime.modinfo), or undefined. */
export function embeddedModinfo(binary: Buffer): string | undefined {
  const s = binary.indexOf(INFO_START);
  if (s < 0) return undefined;
  const e = binary.indexOf(INFO_END, s);
  return e < 0 ? undefined : binary.toString('utf8', s + INFO_START.length, e);
}
