import { PassThrough, type Readable, type Transform } from 'node:stream';
import {
  AbortedError, DigestMismatchError, InvalidManifestError, MediaTypes, TsbuildError, digestOf, isDigest, isManifestType,
  formatPlatform, hostPlatform, platformMatches, sizeCheckedStream, verifyStream, MAX_MANIFEST_BYTES, checkDocumentSize, documentTooLarge,
  parseConfig, parseManifest,
  type Abortable, type Descriptor, type Digest, type GetBlobOptions, type ImageIndex, type ImageManifest, type ImageSource, type Platform, type RawManifest,
} from '../layer-store/core/index.js';
import { BlobDownloadError, RegistryError } from './errors.js';
import { formatReference, type Reference } from './reference.js';
import { backoffDelay, delay } from './retry.js';
import { headerValue, readLimited, type RegistryResponse } from './response.js';
import type { RequestSpec, Transport } from './transport.js';

/** Every manifest kind tsbuild reads. Distribution 2.8 serves an OCI manifest only when its exact type is listed. */
export const MANIFEST_ACCEPT = [MediaTypes.ociIndex, MediaTypes.ociManifest, MediaTypes.dockerManifestList, MediaTypes.dockerManifest].join(', ');
const CONFIG_TYPES: ReadonlySet<string> = new Set([MediaTypes.ociConfig, MediaTypes.dockerConfig]);
// The document limits (MAX_MANIFEST_BYTES, MAX_CONFIG_BYTES, MAX_JSON_DEPTH) and readers are layer-store/core's, shared with the store.

export function repoUrl(t: Transport, ref: Reference, suffix: string): URL {
  return new URL(`/v2/${ref.repository}/${suffix}`, t.baseUrl(ref.registry));
}

/**
 * Returns the manifest named by `reference` (a tag or digest), verified: by digest, the bytes must hash to it;
 * by tag, the registry's Docker-Content-Digest (when sent) must match the bytes. Schema 1 is rejected.
 */
export async function fetchManifest(t: Transport, ref: Reference, reference: string, scopes: readonly string[], o: Abortable = {}): Promise<RawManifest> {
  const name = formatReference(ref);
  const url = repoUrl(t, ref, `manifests/${reference}`);
  let res: Awaited<ReturnType<Transport['request']>>;
  let bytes: Buffer;
  // request() retries until the headers arrive; a body cut off or stalled after that is retried here, within the same policy.
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    res = await t.request({
      method: 'GET', url, registry: ref.registry, scopes,
      headers: { accept: MANIFEST_ACCEPT }, expect: [200], what: 'pull manifest', ref: name, signal: o.signal,
    });
    try {
      bytes = await readLimited(res, MAX_MANIFEST_BYTES, true, () => documentTooLarge('image manifest', name));
      break;
    } catch (e) {
      res.body.destroy();
      if (o.signal?.aborted) throw new AbortedError({ cause: e });
      if (TsbuildError.is(e)) throw e;
      const err = new RegistryError(`pull manifest: body broke off (${(e as Error).message})`, { status: res.status, code: (e as { code?: string }).code ?? '', method: 'GET', url, retryable: true, ref: name, cause: e });
      const wait = backoffDelay(t.o.retry, attempt);
      if (attempt >= t.o.retry.maxAttempts || Date.now() - started + wait > t.o.retry.maxTotalMs) throw err;
      t.o.logger.debug('retrying manifest body', { attempt, error: (e as Error).message });
      await delay(wait, o.signal).catch((x: unknown) => { throw new AbortedError({ cause: x }); });
    }
  }
  // The kind first: a signed schema 1 manifest's digest covers its payload only, so it would read as a mismatch.
  const { mediaType } = parseManifest(bytes, headerValue(res.headers, 'content-type'), name);
  const digest = digestOf(bytes);
  if (isDigest(reference) && reference !== digest) throw new DigestMismatchError(reference, digest, bytes.length, { location: { ref: name } });
  const claimed = headerValue(res.headers, 'docker-content-digest');
  if (claimed && claimed.startsWith('sha256:') && claimed !== digest) throw new DigestMismatchError(claimed, digest, bytes.length, { location: { ref: name } });
  return { mediaType, bytes, digest };
}

/** Returns the manifest descriptor in `index` for `platform` (default: the host's); throws when none matches. */
export function selectPlatform(index: ImageIndex, platform: Platform = hostPlatform(), ref = ''): Descriptor {
  const found = index.manifests.find((m) => isManifestType(m.mediaType) && platformMatches(platform, m.platform));
  if (!found) {
    const have = index.manifests.map((m) => (m.platform ? formatPlatform(m.platform) : '?')).join(', ');
    throw new TsbuildError('IMAGE_NOT_FOUND', `no image for platform ${formatPlatform(platform)} in the index`, {
      hint: `the index has: ${have || 'no platforms'}; choose one with --platform`, ...(ref ? { location: { ref } } : {}),
    });
  }
  return found;
}

/** A pulled image: its index (when the reference named one), its manifest and parsed manifest. */
export interface ResolvedImage {
  readonly index?: RawManifest;
  readonly manifest: RawManifest;
  readonly parsed: ImageManifest;
}

/** Returns the image the source names, choosing `platform` (default: host) from an index. */
export async function resolveImage(src: ImageSource, o: Abortable & { platform?: Platform } = {}): Promise<ResolvedImage> {
  const top = await src.getManifest(undefined, o);
  const p = parseManifest(top.bytes, top.mediaType, src.ref);
  if (p.kind === 'manifest') return { manifest: top, parsed: p.manifest };
  const d = selectPlatform(p.index, o.platform, src.ref);
  const m = await src.getManifest(d.digest, o);
  const child = parseManifest(m.bytes, m.mediaType, `${src.ref}@${d.digest}`);
  if (child.kind !== 'manifest') throw new InvalidManifestError(`the index entry for ${d.digest} is an index, not an image manifest`, { location: { ref: src.ref } });
  return { index: top, manifest: m, parsed: child.manifest };
}

/** An ImageSource over a registry repository; every manifest and blob it returns is verified. */
export class RegistrySource implements ImageSource {
  readonly ref: string;
  readonly #scopes: readonly string[];
  constructor(readonly transport: Transport, readonly reference: Reference) {
    this.ref = formatReference(reference);
    this.#scopes = [`repository:${reference.repository}:pull`];
  }

  /** Returns the manifest the reference names (digest wins over tag), or the one with `digest`. */
  getManifest(digest?: Digest, o: Abortable = {}): Promise<RawManifest> {
    const r = digest ?? this.reference.digest ?? this.reference.tag ?? 'latest';
    return fetchManifest(this.transport, this.reference, r, this.#scopes, o);
  }

  /**
   * Returns the blob's bytes through verifyStream (size-capped; a wrong digest errors instead of ending), or, with
   * `o.digestCheckedByReader` (not for a config, which is checked here), through sizeCheckedStream: the reader
   * hashes them (the store hashes a big download from its temp file on a worker, layer-store/store/file-hasher.ts).
   * A connection that breaks mid-body is resumed with `Range: bytes=N-` (a 200 answer is skipped forward), at
   * most `retry.maxAttempts` times in all; then the stream errors with BlobDownloadError (digest, registry).
   */
  async getBlob(d: Descriptor, o: GetBlobOptions = {}): Promise<Readable> {
    const t = this.transport;
    const isConfig = CONFIG_TYPES.has(d.mediaType);
    if (isConfig) checkDocumentSize('image config', d.size, this.ref);
    const url = repoUrl(t, this.reference, `blobs/${d.digest}`);
    const base = { method: 'GET' as const, url, registry: this.reference.registry, scopes: this.#scopes, what: 'pull blob', ref: this.ref, signal: o.signal };
    // Open the first response eagerly so that 404/auth errors reject getBlob itself.
    const first = await t.request({ ...base, expect: [200] });
    const out = o.digestCheckedByReader && !isConfig ? sizeCheckedStream(d.size) : verifyStream({ digest: d.digest, size: d.size });
    // The body flows in as soon as it arrives, so a small blob can end (and a wrong one error) before the caller
    // reads: the error stays on the stream (its reader's for-await or pipeline gets it), not an uncaught exception.
    out.on('error', () => undefined);
    forwardBlob(t, first, out, { digest: d.digest, size: d.size, url, base, imageRef: this.ref, registry: this.reference.registry, signal: o.signal });
    if (!isConfig) return out;
    // A config is small and parsed whole by its reader: check it as the store would before anyone stores it.
    const ref = this.ref;
    const checked = new PassThrough();
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of out) chunks.push(c as Buffer);
      const bytes = Buffer.concat(chunks);
      parseConfig(bytes, ref);
      checked.end(bytes);
    })().catch((e: unknown) => checked.destroy(e as Error));
    return checked;
  }

  async close(): Promise<void> {
    /* the transport belongs to the client */
  }
}

/** What forwardBlob needs to know of the blob and its request. */
interface BlobTransfer {
  readonly digest: Digest;
  readonly size: number;
  readonly url: URL;
  readonly base: Omit<RequestSpec, 'expect'>;
  /** The image reference and registry, for BlobDownloadError. */
  readonly imageRef: string;
  readonly registry: string;
  readonly signal: AbortSignal | undefined;
}

/**
 * Writes the blob's bytes into `out` (a verifyStream, or a sizeCheckedStream for a reader that hashes) from
 * `first`, with backpressure, and ends it after `b.size` bytes. A body that breaks off or ends short is resumed
 * with `Range: bytes=N-` (`Content-Range` checked; a 200 answer is skipped forward to N), at most
 * `retry.maxAttempts` times in all; then `out` is destroyed with BlobDownloadError. Any other error destroys `out`
 * with it; `out` closed by its reader stops the transfer.
 * Bytes go from each response's 'data' events straight into `out` (before, through an async generator and
 * Readable.from: two promise round trips per 64 KiB chunk, ~15-30 ms of CPU for 128 MiB).
 */
function forwardBlob(t: Transport, first: RegistryResponse, out: Transform, b: BlobTransfer): void {
  const events = t.o.events;
  const policy = t.o.retry;
  let offset = 0;
  let failures = 0;
  let settled = false;
  let current: RegistryResponse = first;
  out.once('close', () => {
    if (settled) return;
    settled = true;
    current.body.destroy();
  });
  const fail = (e: unknown): void => {
    if (settled) return;
    settled = true;
    current.body.destroy();
    out.destroy(e as Error);
  };
  const finish = (): void => {
    settled = true;
    events({ type: 'transfer', id: b.digest, op: 'pull', current: offset, total: b.size, done: true });
    out.end();
  };
  const retry = (e: unknown): void => {
    if (settled) return;
    if (b.signal?.aborted) return fail(new AbortedError({ cause: e }));
    if (TsbuildError.is(e) && !(e instanceof RegistryError && e.retryable)) return fail(e);
    current.body.destroy();
    // Every byte arrived before the body broke (a connection cut after the last byte): nothing to resume.
    if (offset >= b.size) return finish();
    failures++;
    if (failures >= policy.maxAttempts) {
      const last = e instanceof RegistryError ? 'the body ended early' : e instanceof Error ? e.message : String(e);
      return fail(new BlobDownloadError(b.digest, b.registry, `the transfer broke off ${failures} times, the last after ${offset} of ${b.size} bytes (${last})`, { location: { ref: b.imageRef }, cause: e }));
    }
    t.o.logger.debug('resuming blob download', { digest: b.digest, offset, attempt: failures, error: (e as Error).message });
    void (async () => {
      await delay(backoffDelay(policy, failures), b.signal);
      if (settled) return;
      const res = await t.request({ ...b.base, headers: { range: `bytes=${offset}-` }, expect: [200, 206] });
      if (settled) {
        res.body.destroy();
        return;
      }
      current = res;
      if (res.status === 206) {
        const cr = /bytes (\d+)-/.exec(headerValue(res.headers, 'content-range') ?? '');
        if (!cr || Number(cr[1]) !== offset) throw new RegistryError('resume blob download: wrong Content-Range', { status: 206, code: '', method: 'GET', url: b.url, retryable: true });
      }
      read(res, offset > 0 && res.status === 200 ? offset : 0);
    })().catch(retry);
  };
  const read = (res: RegistryResponse, skip: number): void => {
    const body = res.body;
    const onData = (c: Buffer): void => {
      let chunk = c;
      if (skip > 0) {
        const n = Math.min(skip, chunk.length);
        skip -= n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) return;
      }
      offset += chunk.length;
      events({ type: 'transfer', id: b.digest, op: 'pull', current: offset, total: b.size });
      if (!out.write(chunk)) {
        body.pause();
        out.once('drain', () => body.resume());
      }
    };
    const detach = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.on('error', () => undefined); // a late error of a body given up on
    };
    const onEnd = (): void => {
      detach();
      if (settled) return;
      if (offset < b.size) {
        retry(new RegistryError(`blob body ended after ${offset} of ${b.size} bytes`, { status: res.status, code: '', method: 'GET', url: b.url, retryable: true }));
        return;
      }
      finish();
    };
    const onError = (e: unknown): void => {
      detach();
      retry(e);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  };
  read(first, 0);
}
