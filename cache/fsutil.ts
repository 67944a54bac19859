import { unlinkSync } from 'node:fs';
import { compareNameBytes, digestOf, digestHex } from '../layer-store/core/index.js';
import { CacheIoError } from './errors.js';
import { writeFileAtomic as storeWriteFileAtomic } from '../layer-store/index.js';

/**
 * Writes `data` to `path` atomically (the store's temp → rename); failures become CacheIoError. Not fsynced:
 * every cache file is framed with its own hash (frame below), so one a crash left torn or empty reads as a
 * corrupt record, which is a miss, and the cache is rebuildable by definition. The layer blobs records point
 * at are written durably by the store before any record names them.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  try {
    // A file being replaced (a step's latest-build index, at every step run) is removed first: ext4 writes a
    // file renamed over another out at once (auto_da_alloc), 0.2 ms to 10+ ms on a busy disk. A reader in
    // between finds no file, which is a miss, as a torn one is.
    try {
      unlinkSync(path);
    } catch {
      // not there (a new record)
    }
    await storeWriteFileAtomic(path, data, { durable: false });
  } catch (e) {
    throw new CacheIoError(path, { cause: e });
  }
}

/** Frames `json` as cacache does: `<sha256 hex of json>\t<json>\n`, so a torn or edited file is detected on read. */
export function frame(json: string): string {
  return `${digestHex(digestOf(json))}\t${json}\n`;
}

/** Returns the JSON inside a frame, or undefined when the frame is malformed or its hash does not match. */
export function unframe(text: string): string | undefined {
  const tab = text.indexOf('\t');
  if (tab !== 64) return undefined;
  const json = text.endsWith('\n') ? text.slice(tab + 1, -1) : text.slice(tab + 1);
  return digestHex(digestOf(json)) === text.slice(0, tab) ? json : undefined;
}

/** Serialises `v` as JSON with object keys sorted (recursively); arrays keep their order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (v === undefined) return 'null';
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => canonicalJson(x)).join(',')}]`;
  const keys = Object.keys(v as Record<string, unknown>)
    .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

// compareNames (UTF-8 byte order of names) is layer-store/core's; re-exported for cache's users.
export { compareNames } from '../layer-store/core/index.js';
