import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortedError, DigestMismatchError, TsbuildError,
  alreadyVerified, verifyStream, type Abortable, type PutBlobOptions as CorePutBlobOptions, type Descriptor, type ImageDestination, type RawManifest,
} from '../layer-store/core/index.js';
import { AuthError, RegistryError, UploadLostError } from './errors.js';
import { formatReference, type Reference } from './reference.js';
import { backoffDelay, delay } from './retry.js';
import { repoUrl } from './source.js';
import { headerValue } from './response.js';
import type { Transport } from './transport.js';
import { ByteQueue, sliceBuffers } from './byte-queue.js';

/** Options of RegistryDestination.putBlob (`reopen` lets it restart an upload the registry lost). */
export interface PutBlobOptions extends CorePutBlobOptions {
  /** Repositories of the same registry that may already hold the blob: tried with a cross-repository mount. */
  readonly mountFrom?: readonly string[];
}

/** Smallest chunk a 413 can shrink uploads to. */
const MIN_CHUNK = 64 * 1024;
/** How many times a lost upload is restarted from scratch (needs the bytes again). */
const MAX_UPLOAD_RESTARTS = 3;

type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;

/**
 * An ImageDestination over a registry repository. Call order: putBlob for every blob, putManifest for
 * children then the top manifest (children PUT by digest, so nothing is reachable by tag yet), then
 * commit(tags), which PUTs the last manifest under each tag (by digest when there is none). A failure before
 * commit leaves only unreferenced blobs.
 */
export class RegistryDestination implements ImageDestination {
  readonly ref: string;
  #last: RawManifest | undefined;
  /** The last manifest while it is not yet PUT (putManifest defers it to commit). */
  #pending: RawManifest | undefined;
  readonly #scopes: readonly string[];
  /** Blobs hasBlob just found absent, each until the putBlob that uploads it (which then skips its own HEAD). */
  readonly #absent = new Set<string>();
  constructor(readonly transport: Transport, readonly reference: Reference, readonly chunkSize: number, readonly limit: Limiter, readonly mountFrom: readonly string[] = []) {
    this.ref = formatReference(reference);
    this.#scopes = [`repository:${reference.repository}:pull,push`];
  }

  /**
   * Returns whether the registry has the blob (HEAD). A blob it lacks is remembered, so that the putBlob which
   * follows (copyImage asks first) does not HEAD it again: one request less per pushed blob.
   */
  async hasBlob(d: Descriptor, o: Abortable = {}): Promise<boolean> {
    const has = await this.checkExistingBlob(d, o);
    if (!has) this.#absent.add(d.digest);
    return has;
  }

  /** Returns true when HEAD on the blob answers 200 with the expected size (a GET would count as a pull). */
  async checkExistingBlob(d: Descriptor, o: Abortable = {}): Promise<boolean> {
    const res = await this.transport.request({
      method: 'HEAD', url: repoUrl(this.transport, this.reference, `blobs/${d.digest}`), registry: this.reference.registry,
      scopes: this.#scopes, expect: [200, 404], what: 'check blob', ref: this.ref, signal: o.signal,
    });
    await res.body.dump().catch(() => undefined);
    if (res.status !== 200) return false;
    const len = headerValue(res.headers, 'content-length');
    return len === undefined || Number(len) === d.size;
  }

  /**
   * Uploads the blob unless the registry has it (HEAD; none right after hasBlob found it absent), trying a
   * cross-repository mount first when `o.mountFrom` names repositories. The bytes are verified while they
   * stream: a wrong digest or size cancels the upload before it is committed, so the registry never holds
   * unverified content.
   * Returns `want`.
   */
  putBlob(body: Readable, want: Descriptor, opts: PutBlobOptions = {}): Promise<Descriptor> {
    const o: PutBlobOptions = opts.mountFrom === undefined && this.mountFrom.length > 0 ? { ...opts, mountFrom: this.mountFrom } : opts;
    return this.limit(async () => {
      // Absent a moment ago (hasBlob): uploading is right even if another pusher added it meanwhile.
      const justChecked = this.#absent.delete(want.digest);
      if (!justChecked && await this.checkExistingBlob(want, o)) {
        body.destroy();
        this.transport.o.events({ type: 'transfer', id: want.digest, op: 'push', current: want.size, total: want.size, done: true });
        return want;
      }
      let src = body;
      // One restart budget per blob, shared with #commitWhole's own restarts: they must not multiply.
      const budget = { restarts: 0 };
      for (;;) {
        try {
          await this.#upload(src, want, o, budget);
          this.transport.o.events({ type: 'transfer', id: want.digest, op: 'push', current: want.size, total: want.size, done: true });
          return want;
        } catch (e) {
          if (!(e instanceof UploadLostError) || !o.reopen || budget.restarts >= MAX_UPLOAD_RESTARTS) throw e;
          budget.restarts++;
          this.transport.o.logger.debug('restarting lost upload', { digest: want.digest, restart: budget.restarts });
          src.destroy();
          src = await o.reopen();
        }
      }
    });
  }

  async #upload(body: Readable, want: Descriptor, o: PutBlobOptions, budget: { restarts: number }): Promise<void> {
    const init = await this.initiateUpload(want, o);
    if (init.mounted) {
      body.destroy();
      return;
    }
    // The session's newest Location (distribution invalidates older ones after every chunk).
    const session = { location: init.location };
    let done = false;
    try {
      const whole = await this.streamBlob(session, body, want, o);
      if (whole) {
        await this.#commitWhole(session.location, whole, want, o, budget);
      } else {
        await this.commitBlob(session.location, want, undefined, o);
      }
      done = true;
    } finally {
      if (!done) await this.cancelUpload(session.location).catch(() => undefined);
    }
  }

  /** Small blobs are kept whole: a lost upload is restarted from the buffer without asking the caller. */
  async #commitWhole(location: URL, whole: Buffer, want: Descriptor, o: Abortable, budget: { restarts: number }): Promise<void> {
    for (;;) {
      try {
        await this.commitBlob(location, want, whole, o);
        return;
      } catch (e) {
        if (!(e instanceof UploadLostError) || budget.restarts >= MAX_UPLOAD_RESTARTS) throw e;
        budget.restarts++;
        const init = await this.initiateUpload(want, {});
        if (init.mounted) return;
        location = init.location;
      }
    }
  }

  /**
   * POSTs a new upload session (`?mount=&from=` when o.mountFrom is given) and returns its Location,
   * or `mounted` when the registry answered 201 to the mount.
   */
  async initiateUpload(want: Descriptor, o: PutBlobOptions): Promise<{ mounted: true; location?: undefined } | { mounted: false; location: URL }> {
    const t = this.transport;
    for (const from of o.mountFrom ?? []) {
      if (from === this.reference.repository) continue;
      const url = repoUrl(t, this.reference, 'blobs/uploads/');
      url.searchParams.set('mount', want.digest);
      url.searchParams.set('from', from);
      const res = await t.request({
        method: 'POST', url, registry: this.reference.registry, scopes: [...this.#scopes, `repository:${from}:pull`],
        headers: { 'content-length': '0' }, expect: [201, 202], what: 'mount blob', ref: this.ref, signal: o.signal,
      });
      await res.body.dump().catch(() => undefined);
      if (res.status === 201) {
        t.o.logger.debug('blob mounted', { digest: want.digest, from });
        return { mounted: true };
      }
      // 202: the registry opened an ordinary upload session instead; use it.
      return { mounted: false, location: this.#location(res.headers, url) };
    }
    const url = repoUrl(t, this.reference, 'blobs/uploads/');
    const res = await t.request({
      method: 'POST', url, registry: this.reference.registry, scopes: this.#scopes,
      headers: { 'content-length': '0' }, expect: [202], what: 'start blob upload', ref: this.ref, signal: o.signal,
    });
    await res.body.dump().catch(() => undefined);
    return { mounted: false, location: this.#location(res.headers, url) };
  }

  #location(h: Record<string, string | string[] | undefined>, base: URL): URL {
    const loc = headerValue(h, 'location');
    if (!loc) throw new RegistryError('upload response without Location', { status: 202, code: '', method: 'POST', url: base, retryable: false, ref: this.ref });
    return new URL(loc, base);
  }

  /**
   * Streams the verified body into the upload `session` (whose location it keeps at the newest one):
   * a blob of at most chunkSize bytes is returned whole, to be committed by one PUT; a larger one goes up
   * in PATCH chunks with Content-Range, and the last bytes are sent only after the digest was verified.
   * PATCHes are sequential (each goes to the Location the previous one returned), but the next chunk is read
   * and hashed while the previous one is on the wire: at most one chunk in flight and one being filled.
   * No request is in flight once this function has settled.
   */
  async streamBlob(session: { location: URL }, body: Readable, want: Descriptor, o: Abortable): Promise<Buffer | undefined> {
    // The bytes read and not yet sent (byte-queue.ts: chunks go up as views of the blocks read, never joined).
    const pending = new ByteQueue();
    let sent = 0;
    let chunk = this.chunkSize;
    let inflight: Promise<void> | undefined;
    const send = (bufs: Buffer[], length: number): void => {
      const at = sent;
      sent += length;
      inflight = this.#patchChunk(session, bufs, length, at, chunk, want, o).then((r) => { chunk = r.chunkSize; });
      inflight.catch(() => undefined); // observed by the next await
    };
    // A body that already verifies this digest and size (a blob read from the store) is not hashed twice.
    const check = alreadyVerified(body, want) ? undefined : verifyStream({ digest: want.digest, size: want.size });
    const verified: Readable = check ?? body;
    const feeding = check ? pipeline(body, check, o.signal ? { signal: o.signal } : {}) : Promise.resolve();
    feeding.catch(() => undefined);
    try {
      for await (const c of verified as AsyncIterable<Buffer>) {
        pending.push(c);
        // Keep at least one byte back, so the final bytes go up only after verification.
        while (pending.length > chunk) {
          if (inflight) await inflight;
          const n = chunk;
          send(pending.take(n), n);
        }
      }
      await feeding;
      if (inflight) await inflight;
    } catch (e) {
      if (inflight) await inflight.catch(() => undefined);
      throw e;
    }
    const restLen = pending.length;
    const rest = pending.take(restLen);
    if (sent === 0) return rest.length === 1 ? rest[0]! : Buffer.concat(rest, restLen);
    if (restLen) await this.#patchChunk(session, rest, restLen, sent, chunk, want, o);
    return undefined;
  }

  /**
   * PATCHes the `length` bytes of `bufs` at byte offset `start`. On a failure it asks the registry for the
   * upload's offset (GET on the newest Location) and continues from there; 413 halves the chunk size.
   */
  async #patchChunk(session: { location: URL }, bufs: readonly Buffer[], length: number, start: number, chunkSize: number, want: Descriptor, o: Abortable): Promise<{ sent: number; chunkSize: number }> {
    const t = this.transport;
    let piece = Math.min(chunkSize, length);
    let off = 0; // bytes of bufs the registry has acknowledged
    for (let failures = 0; off < length; ) {
      const partLen = Math.min(piece, length - off);
      const part = sliceBuffers(bufs, off, off + partLen);
      const from = start + off;
      try {
        const res = await t.request({
          method: 'PATCH', url: session.location, registry: this.reference.registry, scopes: this.#scopes, body: part, retry: false,
          headers: { 'content-type': 'application/octet-stream', 'content-range': `${from}-${from + partLen - 1}`, 'content-length': String(partLen) },
          expect: [202], what: 'upload blob chunk', ref: this.ref, signal: o.signal,
        });
        await res.body.dump().catch(() => undefined);
        session.location = this.#location(res.headers, session.location);
        const end = rangeEnd(headerValue(res.headers, 'range'));
        if (end !== undefined && end !== from + partLen - 1) throw new UploadLostError(want.digest, `registry acknowledged up to byte ${end}, expected ${from + partLen - 1}`);
        off += partLen;
        t.o.events({ type: 'transfer', id: want.digest, op: 'push', current: start + off, total: want.size });
      } catch (e) {
        if (o.signal?.aborted) throw new AbortedError({ cause: e });
        if (e instanceof AuthError || e instanceof UploadLostError) throw e;
        if (TsbuildError.is(e) && !(e instanceof RegistryError)) throw e;
        if (e instanceof RegistryError && !e.retryable && e.status !== 413) throw new UploadLostError(want.digest, e.message, { cause: e });
        if (++failures >= t.o.retry.maxAttempts) throw e;
        if (e instanceof RegistryError && e.status === 413) piece = Math.max(MIN_CHUNK, Math.floor(piece / 2));
        await delay(backoffDelay(t.o.retry, failures), o.signal);
        const st = await this.getUploadStatus(session.location, want, o);
        // distribution answers `Range: 0-0` both for an empty session and for one holding 1 byte: with
        // nothing acknowledged yet, it means empty.
        const acked = st.end === 0 && start + off === 0 ? 0 : st.end + 1;
        if (acked < start + off || acked > start + length) throw new UploadLostError(want.digest, `registry holds ${acked} bytes, resume point ${start + off} unusable`);
        off = acked - start;
        session.location = st.location;
        t.o.logger.debug('resuming upload', { digest: want.digest, offset: acked, attempt: failures });
      }
    }
    return { sent: length, chunkSize: piece };
  }

  /** Returns the upload's acknowledged end offset (`Range: 0-N`; -1 when empty) and its newest Location. */
  async getUploadStatus(location: URL, want: Descriptor, o: Abortable): Promise<{ end: number; location: URL }> {
    try {
      const res = await this.transport.request({
        method: 'GET', url: location, registry: this.reference.registry, scopes: this.#scopes,
        expect: [204], what: 'get upload status', ref: this.ref, signal: o.signal,
      });
      await res.body.dump().catch(() => undefined);
      const end = rangeEnd(headerValue(res.headers, 'range')) ?? -1;
      const loc = headerValue(res.headers, 'location');
      return { end, location: loc ? new URL(loc, location) : location };
    } catch (e) {
      if (e instanceof RegistryError && (e.status === 404 || e.status === 400)) throw new UploadLostError(want.digest, e.message, { cause: e });
      throw e;
    }
  }

  /**
   * PUTs `?digest=` (with the whole blob as body for a monolithic upload) and checks Docker-Content-Digest.
   * When the PUT's answer was lost, a HEAD decides: present means committed, else the upload is lost.
   */
  async commitBlob(location: URL, want: Descriptor, whole: Buffer | undefined, o: Abortable): Promise<void> {
    const url = new URL(location);
    url.searchParams.set('digest', want.digest);
    try {
      const res = await this.transport.request({
        method: 'PUT', url, registry: this.reference.registry, scopes: this.#scopes, body: whole ?? Buffer.alloc(0),
        headers: { 'content-type': 'application/octet-stream' }, expect: [201, 204], what: 'commit blob', ref: this.ref, signal: o.signal,
      });
      await res.body.dump().catch(() => undefined);
      const got = headerValue(res.headers, 'docker-content-digest');
      if (got && got.startsWith('sha256:') && got !== want.digest) throw new DigestMismatchError(want.digest, got, want.size, { location: { ref: this.ref } });
    } catch (e) {
      if (o.signal?.aborted || e instanceof AuthError || e instanceof DigestMismatchError) throw e;
      if (await this.checkExistingBlob(want, o).catch(() => false)) return;
      if (e instanceof RegistryError && (e.status === 404 || e.status === 400 || e.status === 0 || e.retryable)) {
        throw new UploadLostError(want.digest, e.message, { cause: e });
      }
      throw e;
    }
  }

  /** DELETEs an upload session (best effort; used when an upload fails). */
  async cancelUpload(location: URL): Promise<void> {
    const res = await this.transport.request({
      method: 'DELETE', url: location, registry: this.reference.registry, scopes: this.#scopes,
      expect: [204, 404], what: 'cancel upload', ref: this.ref, retry: false,
    });
    await res.body.dump().catch(() => undefined);
  }

  /**
   * Records the manifest to push. The one before it (a child of this one) is PUT by digest now; this one waits
   * for commit, where one PUT under its tag also makes it reachable by digest (as skopeo pushes): one round
   * trip less per push. Nothing is reachable by tag before commit either way.
   */
  async putManifest(raw: RawManifest, o: Abortable = {}): Promise<void> {
    const child = this.#pending;
    this.#pending = undefined;
    if (child) await this.commitManifest(child, child.digest, o);
    this.#last = raw;
    this.#pending = raw;
  }

  /** PUTs `raw` under `reference` (a digest or tag) with Content-Type = its media type; checks Docker-Content-Digest. */
  async commitManifest(raw: RawManifest, reference: string, o: Abortable = {}): Promise<void> {
    const res = await this.transport.request({
      method: 'PUT', url: repoUrl(this.transport, this.reference, `manifests/${reference}`), registry: this.reference.registry,
      scopes: this.#scopes, body: Buffer.from(raw.bytes), headers: { 'content-type': raw.mediaType },
      expect: [201, 200, 202], what: 'push manifest', ref: this.ref, signal: o.signal,
    });
    await res.body.dump().catch(() => undefined);
    const got = headerValue(res.headers, 'docker-content-digest');
    if (got && got.startsWith('sha256:') && got !== raw.digest) throw new DigestMismatchError(raw.digest, got, raw.bytes.length, { location: { ref: this.ref } });
  }

  /** PUTs the last manifest under each tag (the reference's tag when `tags` is empty), or by digest when there is none. */
  async commit(tags: readonly string[], o: Abortable = {}): Promise<void> {
    const last = this.#last;
    if (!last) throw new TsbuildError('USAGE', 'commit called before putManifest', { location: { ref: this.ref }, hint: 'push blobs, then manifests, then commit' });
    const list = tags.length ? tags : this.reference.tag ? [this.reference.tag] : [];
    if (list.length === 0 && this.#pending) await this.commitManifest(last, last.digest, o);
    for (const tag of list) await this.commitManifest(last, tag, o);
    this.#pending = undefined;
  }

  async close(): Promise<void> {
    /* the transport belongs to the client */
  }
}

function rangeEnd(h: string | undefined): number | undefined {
  const m = /^(?:bytes=)?(\d+)-(\d+)$/.exec((h ?? '').trim());
  return m ? Number(m[2]) : undefined;
}
