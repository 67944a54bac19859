/**
 * ADD's extras over COPY: local tar archives (plain, gzip, bzip2, xz, zstd) are extracted into the destination,
 * and http(s) URLs are downloaded (mode 0600, mtime from Last-Modified, optional --checksum), as Docker does.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, utimes, chmod } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidLayerError, LayerToolError, applyLayer, decompressor, fsPath, isTarHeader, showName, sniffCompression } from '../../layer-store/index.js';
import { BuildError } from '../plan/index.js';
import { webFetch } from '../../registry-client/index.js';

/** A local archive ADD extracts: a bare tar, or a tar compressed as layer-store's sniffCompression recognises. */
export type ArchiveKind = 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

const MAX_REDIRECTS = 10;

/** Returns the archive kind of a file starting with `head`: a compression layer-store detects, a bare tar, else undefined. */
function kindOfHead(head: Buffer): ArchiveKind | undefined {
  const c = sniffCompression(head);
  if (c !== 'none') return c;
  return isTarHeader(head) ? 'tar' : undefined;
}

/**
 * Returns a stream of the decompressed bytes of `file` (tar kinds pass through), decompressed by layer-store's
 * `decompressor`; a missing tool (bzip2, xz, zstd) errors with LayerToolError, which extractArchive turns into a BuildError.
 */
function decompress(file: string, kind: ArchiveKind, signal?: AbortSignal): Readable {
  const src = createReadStream(fsPath(file));
  if (kind === 'tar') return src;
  const d = decompressor(kind, signal);
  pipeline(src, d).catch((e: unknown) => d.destroy(e as Error));
  return d;
}

/** Returns the archive kind when `file` is a tar archive (compressed or not) that ADD extracts, else undefined. */
export async function archiveKind(file: string): Promise<ArchiveKind | undefined> {
  const fh = await open(fsPath(file), 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  const kind = kindOfHead(head);
  if (kind === undefined || kind === 'tar') return kind;
  // A compressed file is extracted only when it holds a tar (Docker's rule): look at the first block.
  const s = decompress(file, kind);
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of s) {
      chunks.push(c as Buffer);
      n += (c as Buffer).length;
      if (n >= 512) break;
    }
  } catch {
    return undefined;
  } finally {
    s.destroy();
  }
  return isTarHeader(Buffer.concat(chunks)) ? kind : undefined;
}

/** Extracts the archive into `targetDir` (hostile-safe: nothing lands outside it); `name` (the source as ADD names it) is for errors. */
export async function extractArchive(file: string, kind: ArchiveKind, targetDir: string, signal?: AbortSignal, owner?: { uid: number; gid: number }, name = basename(file)): Promise<void> {
  try {
    // The archive's root entry (`./`) leaves the destination as it is (moby's Unpack skips it).
    // It ends as Go's archive/tar says (BuildKit's untar): a truncated end-of-archive marker fails the ADD.
    await applyLayer(decompress(file, kind, signal), targetDir, { whiteouts: 'apply', xattrs: false, rootEntry: 'skip', end: 'go', ...(owner ? { owner } : {}), ...(signal ? { signal } : {}) });
  } catch (e) {
    // ADD keeps its error type: the tool that is missing, and the archive it was needed for.
    if (e instanceof LayerToolError) {
      throw new BuildError(`cannot run ${e.tool} to extract ${showName(name)}: ${e.message.slice(e.tool.length + 2)}`, { hint: e.hint ?? `install ${e.tool}`, cause: e });
    }
    if (e instanceof InvalidLayerError) {
      throw new BuildError(`cannot extract ${showName(name)}: ${e.message.replace(/^invalid layer: /, '')}`, {
        hint: 'the archive is truncated or corrupt: re-create it, or COPY it to add the file without extracting', cause: e,
      });
    }
    throw e;
  }
}

/**
 * Returns the file name ADD gives a download: the last component of the URL's path as written (percent-decoded,
 * redirects do not change it), or `__unnamed__` when the path has none (`http://host/`), as BuildKit names it.
 */
export function downloadName(url: string): string {
  let path: string;
  try {
    path = decodeURIComponent(new URL(url).pathname);
  } catch {
    return '__unnamed__';
  }
  const base = posix.basename(path);
  return base === '' || base === '.' || base === '..' ? '__unnamed__' : base;
}

export interface Fetched {
  readonly path: string;
  /** The file name ADD gives it (downloadName). */
  readonly name: string;
  readonly digest: string;
}

/**
 * Downloads an http(s) URL into `dir`, following at most 10 redirects and only to http(s). Verifies
 * `checksum` (`sha256:<hex>`) when given. The file gets mode 0600 and Last-Modified as mtime.
 */
export async function fetchUrl(url: string, dir: string, checksum: string | undefined, signal?: AbortSignal): Promise<Fetched> {
  let current = new URL(url);
  let res: Response | undefined;
  for (let i = 0; i <= MAX_REDIRECTS; i++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new BuildError(`ADD ${url}: refusing to follow a redirect to ${current.protocol} URL`, { hint: 'ADD only downloads http and https URLs' });
    }
    res = await webFetch(current, { redirect: 'manual', ...(signal ? { signal } : {}) });
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      current = new URL(res.headers.get('location')!, current);
      await res.body?.cancel();
      continue;
    }
    break;
  }
  if (!res || res.status >= 300) {
    throw new BuildError(`ADD ${url}: download failed with HTTP ${res?.status ?? 'redirect loop'}`, { hint: 'check the URL; ADD needs a 200 answer' });
  }
  const name = downloadName(url);
  const path = join(dir, `url-${createHash('sha256').update(url).digest('hex').slice(0, 12)}`);
  const h = createHash('sha256');
  const body = Readable.fromWeb(res.body as never);
  body.on('data', (c: Buffer) => h.update(c));
  await pipeline(body, createWriteStream(path, { mode: 0o600 }));
  const digest = `sha256:${h.digest('hex')}`;
  if (checksum !== undefined && checksum !== digest) {
    throw new BuildError(`ADD ${url}: checksum mismatch: expected ${checksum}, got ${digest}`, { hint: 'fix --checksum or the URL' });
  }
  await chmod(path, 0o600);
  const lm = res.headers.get('last-modified');
  if (lm && !Number.isNaN(Date.parse(lm))) await utimes(path, new Date(Date.parse(lm)), new Date(Date.parse(lm)));
  return { path, name, digest };
}
