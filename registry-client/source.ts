import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortedError, DigestMismatchError, InvalidManifestError, MediaTypes, TsbuildError, digestOf, isDigest, isManifestType,
  formatPlatform, hostPlatform, platformMatches, verifyStream, MAX_MANIFEST_BYTES, checkDocumentSize, documentTooLarge,
  parseConfig, parseManifest,
  type Abortable, type Descriptor, type Digest, type ImageIndex, type ImageManifest, type ImageSource, type Platform, type RawManifest,
} from '../layer-store/core/index.js';
import { BlobDownloadError, RegistryError } from './errors.js';
import { formatReference, type Reference } from './reference.js';
import { backoffDelay, delay } from './retry.js';
import { headerValue, readLimited } from './response.js';
import type { Transport } from './transport.js';

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
   * Returns the blob's bytes through verifyStream (size-capped; a wrong digest errors instead of ending).
   * A connection that breaks mid-body is resumed with `Range: bytes=N-` (a 200 answer is skipped forward), at
   * most `retry.maxAttempts` times in all; then the stream errors with BlobDownloadError (digest, registry).
   */
  async getBlob(d: Descriptor, o: Abortable = {}): Promise<Readable> {
    const t = this.transport;
    const isConfig = CONFIG_TYPES.has(d.mediaType);
    if (isConfig) checkDocumentSize('image config', d.size, this.ref);
    const url = repoUrl(t, this.reference, `blobs/${d.digest}`);
    const base = { method: 'GET' as const, url, registry: this.reference.registry, scopes: this.#scopes, what: 'pull blob', ref: this.ref, signal: o.signal };
    // Open the first response eagerly so that 404/auth errors reject getBlob itself.
    let first: Awaited<ReturnType<Transport['request']>> | undefined = await t.request({ ...base, expect: [200] });
    const events = t.o.events;
    const policy = t.o.retry;
    const size = d.size;
    const { ref: imageRef } = this;
    const { registry } = this.reference;
    async function* body(): AsyncGenerator<Buffer> {
      let offset = 0;
      let failures = 0;
      while (offset < size || first) {
        let res = first;
        first = undefined;
        try {
          res ??= await t.request({ ...base, headers: { range: `bytes=${offset}-` }, expect: [200, 206] });
          let skip = 0;
          if (offset > 0 && res.status === 200) skip = offset;
          if (res.status === 206) {
            const cr = /bytes (\d+)-/.exec(headerValue(res.headers, 'content-range') ?? '');
            if (!cr || Number(cr[1]) !== offset) throw new RegistryError('resume blob download: wrong Content-Range', { status: 206, code: '', method: 'GET', url, retryable: true });
          }
          for await (const c of res.body) {
            let b = c as Buffer;
            if (skip > 0) {
              const n = Math.min(skip, b.length);
              skip -= n;
              b = b.subarray(n);
              if (b.length === 0) continue;
            }
            offset += b.length;
            events({ type: 'transfer', id: d.digest, op: 'pull', current: offset, total: size });
            yield b;
          }
          if (offset >= size) break;
          throw new RegistryError(`blob body ended after ${offset} of ${size} bytes`, { status: res.status, code: '', method: 'GET', url, retryable: true });
        } catch (e) {
          if (o.signal?.aborted) throw new AbortedError({ cause: e });
          if (TsbuildError.is(e) && !(e instanceof RegistryError && e.retryable)) throw e;
          failures++;
          res?.body.destroy();
          if (failures >= policy.maxAttempts) {
            const last = e instanceof RegistryError ? 'the body ended early' : e instanceof Error ? e.message : String(e);
            throw new BlobDownloadError(d.digest, registry, `the transfer broke off ${failures} times, the last after ${offset} of ${size} bytes (${last})`, { location: { ref: imageRef }, cause: e });
          }
          t.o.logger.debug('resuming blob download', { digest: d.digest, offset, attempt: failures, error: (e as Error).message });
          await delay(backoffDelay(policy, failures), o.signal);
        }
      }
      events({ type: 'transfer', id: d.digest, op: 'pull', current: offset, total: size, done: true });
    }
    const out = verifyStream({ digest: d.digest, size: d.size });
    pipeline(Readable.from(body(), { objectMode: false }), out).catch(() => undefined);
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
