/**
 * One sequential pass over an image archive (an OCI archive or a docker-archive tar), shared by `load` and the
 * `oci-archive:`/`docker-archive:` transports: entry names are normalised (`./a/` → `a`), symlinks and hard links
 * are collected (name → archive path), entries that are not regular files are skipped, and each regular file goes
 * to `onFile` with its digest when it is named `blobs/sha256/<hex>`. A tar that cannot be read fails with
 * `fail('unreadable tar', cause)`; errors `onFile` throws as TsbuildErrors pass unchanged.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TsbuildError, isDigest, type Abortable, type Digest } from '../core/index.js';
import type tar from 'tar-stream';
import type { ExtractEvents } from 'tar-stream';

/** tar-stream (with streamx) loads on first use: ~15 ms that a build never needs. */
const tarStream = async (): Promise<typeof tar> => (await import('tar-stream')).default;

export interface ArchiveFile {
  /** The normalised name (`blobs/sha256/…`, `index.json`, `<id>/layer.tar`). */
  readonly name: string;
  /** For `blobs/sha256/<hex>`: the digest the name gives. */
  readonly digest?: Digest | undefined;
  /** The entry's bytes; read it to its end (or resume it) before returning. */
  readonly entry: ExtractEvents['entry'][1];
}

export interface ArchiveReadOptions extends Abortable {
  /** Refuse absolute and `..` names (for callers that write entries to disk by name). */
  readonly refuseUnsafeNames?: boolean;
}

/** Reads `input` to its end, giving each regular file to `onFile`; returns the archive's links. */
export async function readArchiveFiles(
  input: Readable, fail: (what: string, cause?: unknown) => TsbuildError, onFile: (f: ArchiveFile) => Promise<void>, o: ArchiveReadOptions = {},
): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  const extract = (await tarStream()).extract();
  const reading = pipeline(input, extract, o.signal ? { signal: o.signal } : {});
  try {
    for await (const entry of extract) {
      const name = posix.normalize(entry.header.name).replace(/^(\.\/)+/, '').replace(/\/$/, '');
      if (o.refuseUnsafeNames && (name.startsWith('/') || name === '..' || name.startsWith('../'))) throw fail(`unsafe entry name ${entry.header.name}`);
      const type = entry.header.type;
      if (type === 'symlink' || type === 'link') {
        const target = entry.header.linkname ?? '';
        links.set(name, type === 'symlink' ? posix.normalize(posix.join(posix.dirname(name), target)) : posix.normalize(target));
        entry.resume();
        continue;
      }
      if (type !== 'file' && type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      const m = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(name);
      const digest = m ? `sha256:${m[1]}` : undefined;
      await onFile({ name, digest: digest && isDigest(digest) ? digest : undefined, entry });
    }
    await reading;
  } catch (e) {
    extract.destroy();
    await reading.catch(() => undefined);
    if (TsbuildError.is(e)) throw e;
    throw fail('unreadable tar', e);
  }
  return links;
}
