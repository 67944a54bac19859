/**
 * A build context given as an http(s) URL that is not a git repository (BuildKit's DetectHTTPContext): the URL
 * is downloaded; when it is an archive (tar, or gzip, bzip2, xz or zstd compressed) it is extracted and is the
 * context, otherwise the file itself is the Dockerfile of an empty context (BuildKit names it `context`).
 * Left behind: the directory the caller gave (it removes it); on failure nothing else.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer, decompressor, sniffCompression } from '../../layer-store/index.js';
import { ContextError } from './errors.js';
import { webFetch } from '../../registry-client/index.js';

const MAX_REDIRECTS = 10;

/** A downloaded context: the directory to build in, and the Dockerfile when the URL was one. */
export interface DownloadedContext {
  readonly dir: string;
  /** Set when the URL was not an archive: the downloaded file, to be used as the Dockerfile. */
  readonly dockerfile?: string;
}

/** True when `s` is an http(s) URL (callers ask isGitRef first: a `.git` URL is a repository). */
export function isHttpContext(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/**
 * Downloads `url` into the new file `file` (mode 0600), following http(s) redirects only; anything but a final
 * 200 fails naming `what` (e.g. `build context URL`).
 */
export async function downloadFile(url: string, file: string, what: string, signal?: AbortSignal): Promise<void> {
  let current = new URL(url);
  let res: Response | undefined;
  for (let i = 0; i <= MAX_REDIRECTS; i++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') {
      throw new ContextError(`${what}: refusing to follow a redirect to a ${current.protocol} URL`, { location: { ref: url }, hint: 'give an http or https URL of a tar archive or a Dockerfile' });
    }
    try {
      res = await webFetch(current, { redirect: 'manual', ...(signal ? { signal } : {}) });
    } catch (e) {
      if (signal?.aborted) throw e;
      const why = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new ContextError(`cannot download ${what}: ${why?.code ?? why?.message ?? String(e)}`, { location: { ref: url }, hint: 'check the URL and that the server is reachable', cause: e });
    }
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) {
      current = new URL(loc, current);
      await res.body?.cancel();
      continue;
    }
    break;
  }
  if (!res || res.status !== 200 || !res.body) {
    await res?.body?.cancel();
    throw new ContextError(`cannot download ${what}: HTTP ${res?.status ?? 'redirect loop'}`, { location: { ref: url }, hint: 'check the URL; the server must answer 200' });
  }
  await pipeline(Readable.fromWeb(res.body as never), createWriteStream(file, { mode: 0o600 }), { ...(signal ? { signal } : {}) });
}

/** Downloads `url` below `dir` (an empty directory the caller owns) and returns the context it makes (see the header). */
export async function downloadContext(url: string, dir: string, signal?: AbortSignal): Promise<DownloadedContext> {
  const file = join(dir, 'context');
  await downloadFile(url, file, `build context ${url}`, signal);
  const head = await readHead(file);
  const compression = sniffCompression(head);
  const isTar = head.length >= 263 && head.toString('latin1', 257, 262) === 'ustar';
  if (compression === 'none' && !isTar) return { dir, dockerfile: file };
  const root = join(dir, 'root');
  await mkdir(root);
  let src: Readable = createReadStream(file);
  if (compression !== 'none') {
    const d = decompressor(compression, signal);
    pipeline(src, d).catch((e: unknown) => d.destroy(e as Error));
    src = d;
  }
  try {
    await applyLayer(src, root, { whiteouts: 'apply', xattrs: false, ...(signal ? { signal } : {}) });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ContextError(`build context ${url}: cannot extract the archive: ${(e as Error).message}`, { location: { ref: url }, hint: 'the URL must name a tar archive (plain or compressed) or a Dockerfile', cause: e });
  }
  return { dir: root };
}

async function readHead(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
