/**
 * copyImage: the one generic copy (pull, push, save, load, store→store) over ImageSource/ImageDestination,
 * in the containers/image order: blobs (in parallel, skipping those the destination has), then manifests
 * children first, then commit. Nothing is visible at the destination before commit. Attestation manifests
 * (attestation-storage.md) are children like any other: copied with the whole index, never picked as a platform.
 */
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DigestMismatchError, MediaTypes, TsbuildError, checkAttestationReferences, digestOf, isAttestationManifest, formatPlatform, hostPlatform, isIndexType, isManifestType,
  platformMatches, throwIfAborted, vouchFor, parseManifest,
  type Abortable, type Descriptor, type Digest, type EventSink, type ImageDestination, type ImageSource,
  type Platform, type RawManifest,
} from './core/index.js';
import { encodeDocument, toOciManifest } from './image/index.js';

export interface CopyOptions extends Abortable {
  /** For an index: copy only the child for this platform (default: the host's), and commit that child. */
  readonly platform?: Platform;
  /** For an index: copy every child and commit the index itself. Default false. */
  readonly allPlatforms?: boolean;
  /** Names to commit at the destination (none: the destination records it unnamed / by digest). */
  readonly tags?: readonly string[];
  /** Blobs copied at once (default 4). */
  readonly concurrency?: number;
  readonly events?: EventSink;
  /**
   * Rewrite Docker v2s2 manifests and manifest lists as OCI documents (same blobs, new manifest digests),
   * so OCI-only readers (skopeo's oci: transport, umoci) see them in the store. Default false: byte for byte.
   */
  readonly convertToOci?: boolean;
}

/** Returns the descriptor of the committed top-level manifest (the index, or the chosen child). */
export async function copyImage(src: ImageSource, dst: ImageDestination, o: CopyOptions = {}): Promise<Descriptor> {
  const top = await getVerifiedManifest(src, undefined, o);
  const parsed = parseManifest(top.bytes, top.mediaType, src.ref);
  // A broken attestation fails the copy before anything is written (whether or not it would be copied).
  if (parsed.kind === 'index') checkAttestationReferences(parsed.index, src.ref);
  let result: Descriptor;
  if (parsed.kind === 'index' && !o.allPlatforms) {
    const want = o.platform ?? hostPlatform();
    // Attestation manifests (platform unknown/unknown) are never the image picked.
    const ms = parsed.index.manifests.filter((m) => (isManifestType(m.mediaType) || isIndexType(m.mediaType)) && !isAttestationManifest(m));
    const child = ms.find((m) => platformMatches(want, m.platform)) ?? (ms.length === 1 && !ms[0]!.platform ? ms[0] : undefined);
    if (!child) {
      throw new TsbuildError('IMAGE_NOT_FOUND', `${src.ref} has no image for ${formatPlatform(want)}`, {
        hint: `available: ${ms.map((m) => (m.platform ? formatPlatform(m.platform) : 'unknown')).join(', ') || 'none'}; pass --platform`,
        location: { ref: src.ref },
      });
    }
    // An index of one image and its attestations (buildx's single-platform result) is copied whole: the chosen
    // platform is all of it, and its digest and attestations stay as pushed.
    const whole = !dst.singleImage && ms.length === 1 && parsed.index.manifests.length > 1 && parsed.index.manifests.every((m) => m === child || isAttestationManifest(m));
    result = whole
      ? await copyTree(src, dst, { mediaType: parsed.mediaType, digest: top.digest, size: top.bytes.length }, o, top)
      : await copyTree(src, dst, child, o);
  } else {
    result = await copyTree(src, dst, { mediaType: parsed.mediaType, digest: top.digest, size: top.bytes.length }, o, top);
  }
  throwIfAborted(o.signal);
  await dst.commit(o.tags ?? [], o);
  return result;
}

/** Copies the manifest `desc` and everything below it; returns its descriptor. */
async function copyTree(src: ImageSource, dst: ImageDestination, desc: Descriptor, o: CopyOptions, have?: RawManifest): Promise<Descriptor> {
  const raw = have ?? (await getVerifiedManifest(src, desc.digest, o));
  const p = parseManifest(raw.bytes, raw.mediaType, `${src.ref}@${desc.digest}`);
  let out: RawManifest = { mediaType: p.mediaType, bytes: raw.bytes, digest: raw.digest };
  if (p.kind === 'index') {
    checkAttestationReferences(p.index, src.ref);
    const children: Descriptor[] = [];
    for (const c of p.index.manifests) {
      if (isManifestType(c.mediaType) || isIndexType(c.mediaType)) children.push({ ...c, ...(await copyTree(src, dst, c, o)) });
      else {
        await copyBlobs(src, dst, [c], o);
        children.push(c);
      }
    }
    if (o.convertToOci && (p.mediaType !== MediaTypes.ociIndex || children.some((c, i) => c.digest !== p.index.manifests[i]!.digest))) {
      const doc = encodeDocument({ ...p.index, mediaType: MediaTypes.ociIndex, manifests: children }, MediaTypes.ociIndex);
      out = { mediaType: doc.mediaType, bytes: doc.bytes, digest: doc.digest };
    }
  } else {
    const blobs = [p.manifest.config, ...p.manifest.layers];
    await dst.willCopy?.([{ mediaType: p.mediaType, digest: raw.digest, size: raw.bytes.length }, ...blobs], o);
    await copyBlobs(src, dst, blobs, o);
    if (o.convertToOci && p.mediaType === MediaTypes.dockerManifest) {
      const doc = encodeDocument(toOciManifest(p.manifest), MediaTypes.ociManifest);
      out = { mediaType: doc.mediaType, bytes: doc.bytes, digest: doc.digest };
    }
  }
  throwIfAborted(o.signal);
  await dst.putManifest(out, o);
  return { mediaType: out.mediaType, digest: out.digest, size: out.bytes.length, ...(desc.platform ? { platform: desc.platform } : {}) };
}

async function getVerifiedManifest(src: ImageSource, digest: Digest | undefined, o: Abortable): Promise<RawManifest> {
  const raw = await src.getManifest(digest, o);
  const got = digestOf(raw.bytes);
  if (got !== raw.digest || (digest !== undefined && got !== digest)) throw new DigestMismatchError(digest ?? raw.digest, got, raw.bytes.length, { location: { ref: src.ref } });
  return raw;
}

/** Copies blobs with at most `o.concurrency` in flight, skipping those the destination already has. */
async function copyBlobs(src: ImageSource, dst: ImageDestination, blobs: readonly Descriptor[], o: CopyOptions): Promise<void> {
  const seen = new Set<string>();
  const todo = blobs.filter((b) => !seen.has(b.digest) && seen.add(b.digest));
  await mapLimit(todo, Math.max(1, o.concurrency ?? 4), async (b) => {
    throwIfAborted(o.signal);
    const id = b.digest.slice(7, 19);
    if (await dst.hasBlob(b, o)) {
      o.events?.({ type: 'transfer', id, op: 'copy', current: b.size, total: b.size, done: true });
      return;
    }
    // The destination verifies digest and size before it commits (ImageDestination.putBlob), so the source need
    // not hash too: a registry then only checks the size, and the store hashes a big blob from its temp file on
    // a worker instead of on this thread (issue 22, the T1 pull).
    const body = await src.getBlob(b, { ...o, digestCheckedByReader: true });
    let current = 0;
    let lastEmit = 0;
    const progress = new Transform({
      transform(chunk: Buffer, _e, cb: TransformCallback) {
        current += chunk.length;
        if (o.events && current - lastEmit >= 1 << 20) {
          lastEmit = current;
          o.events({ type: 'transfer', id, op: 'copy', current, total: b.size });
        }
        cb(null, chunk);
      },
    });
    // progress passes the bytes unchanged and dies with body's error (one pipeline): a verified body keeps its
    // check, so the destination need not hash it again. The destination reads progress itself (no PassThrough
    // behind it: one stream hop less per chunk, ~25 ms of CPU for T1's 540 MB).
    vouchFor(progress, body);
    const feeding = pipeline([body, progress], o.signal ? { signal: o.signal } : {});
    // A destination that loses a partial upload restarts it with the bytes read again from the source.
    const reopen = (): Promise<Readable> => src.getBlob(b, { ...o, digestCheckedByReader: true });
    const [r1, r2] = await Promise.allSettled([feeding, dst.putBlob(progress, b, { ...o, reopen }).catch((e: unknown) => {
      progress.destroy(e as Error);
      throw e;
    })]);
    // putBlob verified what it stored; a feeding error after that (it found the blob present and stopped
    // reading) does not matter.
    if (r2.status === 'rejected') throw r2.reason;
    void r1;
    o.events?.({ type: 'transfer', id, op: 'copy', current, total: b.size, done: true });
  });
}

/** Runs `fn` over `items` with at most `limit` running; rejects with the first error after all settle. */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  let firstError: unknown;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        if (!failed) firstError = e;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw firstError;
}
