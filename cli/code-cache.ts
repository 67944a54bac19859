/**
 * The file format of a V8 code cache for one chunk of the bundled executable (`dist/bin/NAME.cjs.v8-cache`,
 * written by chunk-loader.ts). V8 checks its own version and flags when it reads cached data, but in release
 * builds it neither checks that the data belongs to the source (only the source's length) nor that the data is
 * intact (no checksum), and bytecode that does not match its source would run wrong, or crash. So the file
 * carries its own checks, and anything that does not match reads as no cache:
 *
 *   'TSBC' | format 1 | source bytes | crc32(source) | V8 data bytes | crc32(keys + V8 data) | keys bytes | keys | V8 data
 *
 * (uint32 little-endian; the source is the exact text compiled, wrapper included). `keys` are the commands whose
 * run the data was made after ('\n'-separated): the loader adds the functions a new command compiled.
 */

/** CRC-32 (zlib's), with an initial value to continue over several buffers. */
export type Crc32 = (data: Uint8Array, value?: number) => number;

/** What a valid cache file holds: V8's cached data and the commands it was made after. */
export interface CodeCache {
  readonly data: Buffer;
  readonly keys: readonly string[];
}

const MAGIC = 0x43425354; // 'TSBC' read as a little-endian uint32
const FORMAT = 1;
const HEADER = 7 * 4;

/** The CRC-32 of a source given in parts (the loader's wrapper, then the chunk file). */
export function sourceCrc(parts: readonly Uint8Array[], crc32: Crc32): number {
  let c = 0;
  for (const p of parts) c = crc32(p, c);
  return c;
}

/** The bytes of a cache file for V8 data made from a source of `sourceBytes` bytes with CRC `sourceCrc32`. */
export function encodeCodeCache(sourceBytes: number, sourceCrc32: number, data: Uint8Array, keys: readonly string[], crc32: Crc32): Buffer {
  const k = Buffer.from(keys.join('\n'), 'utf8');
  const head = Buffer.alloc(HEADER);
  const fields = [MAGIC, FORMAT, sourceBytes, sourceCrc32 >>> 0, data.length, crc32(data, crc32(k)) >>> 0, k.length];
  fields.forEach((v, i) => head.writeUInt32LE(v, i * 4));
  return Buffer.concat([head, k, data]);
}

/**
 * Reads a cache file's bytes: its V8 data and keys when the file is whole and was made for exactly this source
 * (same length and CRC-32), else undefined. Never throws.
 */
export function decodeCodeCache(file: Buffer, sourceBytes: number, sourceCrc32: number, crc32: Crc32): CodeCache | undefined {
  if (file.length < HEADER) return undefined;
  const u = (i: number): number => file.readUInt32LE(i * 4);
  if (u(0) !== MAGIC || u(1) !== FORMAT || u(2) !== sourceBytes || u(3) !== sourceCrc32 >>> 0) return undefined;
  const dataBytes = u(4);
  const keyBytes = u(6);
  if (HEADER + keyBytes + dataBytes !== file.length) return undefined;
  const keys = file.subarray(HEADER, HEADER + keyBytes);
  const data = file.subarray(HEADER + keyBytes);
  if (crc32(data, crc32(keys)) >>> 0 !== u(5)) return undefined;
  const k = keys.toString('utf8');
  return { data, keys: k === '' ? [] : k.split('\n') };
}
