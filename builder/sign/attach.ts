/**
 * Where signatures live in a registry, as cosign stores them: the tag `sha256-<hex>.sig` in the image's repository
 * names an OCI manifest whose layers are simple-signing payloads, each annotated with its base64 signature
 * (`dev.cosignproject.cosign/signature`); its config lists the payloads as diff_ids (cosign's and skopeo's shape).
 * A new signature is appended (read, add a layer, write back): others' signatures stay. Where the registry answers
 * the OCI 1.1 referrers API (`GET /v2/<name>/referrers/<digest>` → an index), the signature also goes up as a
 * referrer (a manifest with `subject` = the image, artifactType cosign's); elsewhere (distribution 2.8) that is skipped.
 * Everything goes through registry-client's source/destination and transport; the image itself is never written.
 */
import { Readable } from 'node:stream';
import {
  MediaTypes, TsbuildError, digestOf,
  type Descriptor, type Digest, type ImageManifest, type RawManifest,
} from '../../layer-store/index.js';
import { RegistryError, formatReference, type Reference, type RegistryClient } from '../../registry-client/index.js';
import { SIGNATURE_ANNOTATION, SIMPLESIGNING_MEDIA_TYPE } from './payload.js';

/** cosign's artifact type for a signature pushed as an OCI 1.1 referrer. */
export const SIGNATURE_ARTIFACT_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
/** The largest payload read back (containers/image's limit for a signature body). */
const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/** One signature layer of a `.sig` manifest: the payload bytes (verified against the layer digest) and the base64 signature. */
export interface StoredSignature {
  readonly payload: Buffer;
  readonly signature: string;
  readonly layer: Descriptor;
}

/** Returns the cosign tag of the signatures of `digest`: `sha256-<hex>.sig`. */
export function signatureTag(digest: Digest): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** Returns `ref`'s repository with `tag` instead of its tag or digest. */
function inRepo(ref: Reference, tag: string): Reference {
  return { registry: ref.registry, repository: ref.repository, tag };
}

/** Returns the `.sig` manifest of `digest` in `ref`'s repository, or undefined when the registry has none. */
export async function fetchSignatureManifest(registry: RegistryClient, ref: Reference, digest: Digest, signal?: AbortSignal): Promise<{ raw: RawManifest; manifest: ImageManifest } | undefined> {
  const where = inRepo(ref, signatureTag(digest));
  let raw: RawManifest;
  try {
    raw = await registry.source(where).getManifest(undefined, { signal });
  } catch (e) {
    if (e instanceof RegistryError && e.status === 404) return undefined;
    throw e;
  }
  const doc = JSON.parse(Buffer.from(raw.bytes).toString('utf8')) as ImageManifest;
  if (raw.mediaType !== MediaTypes.ociManifest || !Array.isArray(doc.layers) || !doc.config) {
    throw new TsbuildError('SIGNATURE', `signature tag holds a ${raw.mediaType}, not an OCI image manifest`, { location: { ref: formatReference(where) }, hint: 'the tag was not written by cosign, skopeo or tsbuild; delete it and sign again' });
  }
  return { raw, manifest: doc };
}

/** Returns the bytes of a small blob of `ref`'s repository, verified against its digest and size. */
async function readSmallBlob(registry: RegistryClient, ref: Reference, d: Descriptor, signal?: AbortSignal): Promise<Buffer> {
  if (d.size > MAX_PAYLOAD_BYTES) throw new TsbuildError('SIGNATURE', `signature blob ${d.digest} is ${d.size} bytes`, { location: { ref: formatReference(ref) }, hint: `payloads above ${MAX_PAYLOAD_BYTES} bytes are refused` });
  // As an octet stream: the source checks an image config's schema, which a signature's config need not meet.
  const s = await registry.source(ref).getBlob({ mediaType: 'application/octet-stream', digest: d.digest, size: d.size }, { signal });
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Returns the simple-signing layers of `digest`'s `.sig` manifest with their payloads; empty when there is none. */
export async function readSignatures(registry: RegistryClient, ref: Reference, digest: Digest, signal?: AbortSignal): Promise<StoredSignature[]> {
  const found = await fetchSignatureManifest(registry, ref, digest, signal);
  if (!found) return [];
  const out: StoredSignature[] = [];
  for (const layer of found.manifest.layers) {
    const signature = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (layer.mediaType !== SIMPLESIGNING_MEDIA_TYPE || signature === undefined) continue;
    out.push({ payload: await readSmallBlob(registry, inRepo(ref, signatureTag(digest)), layer, signal), signature, layer });
  }
  return out;
}

/** What appendSignature did. */
export interface AttachResult {
  /** `registry/repo:sha256-….sig`. */
  readonly signatureRef: string;
  /** The `.sig` manifest's digest after the append. */
  readonly manifestDigest: Digest;
  /** False when an identical signature (payload and annotations) was there already. */
  readonly added: boolean;
  /** `pushed`: also a referrer (OCI 1.1); `unsupported`: the registry has no referrers API, skipped. */
  readonly referrer: 'pushed' | 'unsupported';
}

/**
 * Returns the result of adding one signature of `subject` (the signed manifest's descriptor) to `ref`'s repository:
 * payload blob, then config blob, then the `.sig` manifest under its tag; then, where offered, the referrer.
 * A failure leaves the existing `.sig` manifest as it was (only unreferenced blobs).
 */
export async function appendSignature(registry: RegistryClient, ref: Reference, subject: Descriptor, payload: Buffer, signature: string, signal?: AbortSignal): Promise<AttachResult> {
  const tag = signatureTag(subject.digest);
  const sigRef = inRepo(ref, tag);
  const dst = registry.destination(sigRef);
  const existing = await fetchSignatureManifest(registry, ref, subject.digest, signal);
  const layer: Descriptor = { mediaType: SIMPLESIGNING_MEDIA_TYPE, digest: digestOf(payload), size: payload.length, annotations: { [SIGNATURE_ANNOTATION]: signature } };
  const layers = [...(existing?.manifest.layers ?? [])];
  let config: Record<string, unknown> = { architecture: '', os: '', config: {}, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } };
  if (existing) {
    try {
      config = JSON.parse((await readSmallBlob(registry, sigRef, existing.manifest.config, signal)).toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      if (TsbuildError.is(e) && e.code !== 'SIGNATURE' && !(e instanceof SyntaxError)) throw e;
      // An unreadable config is rebuilt from the layers: the layers are what verifiers read.
    }
  }
  const same = layers.some((l) => l.mediaType === layer.mediaType && l.digest === layer.digest && l.annotations?.[SIGNATURE_ANNOTATION] === signature && Object.keys(l.annotations ?? {}).length === 1);
  if (same && existing) {
    const referrer = await pushReferrer(registry, ref, subject, payload, layer, signal);
    return { signatureRef: formatReference(sigRef), manifestDigest: existing.raw.digest, added: false, referrer };
  }
  await dst.putBlob(Readable.from([payload]), layer, { signal });
  layers.push(layer);
  const rootfs = (typeof config.rootfs === 'object' && config.rootfs !== null ? config.rootfs : {}) as { diff_ids?: unknown };
  const diffIds = Array.isArray(rootfs.diff_ids) ? [...rootfs.diff_ids as string[]] : layers.slice(0, -1).map((l) => l.digest);
  config = { ...config, rootfs: { ...rootfs, type: 'layers', diff_ids: [...diffIds, layer.digest] } };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc: Descriptor = { mediaType: MediaTypes.ociConfig, digest: digestOf(configBytes), size: configBytes.length };
  await dst.putBlob(Readable.from([configBytes]), configDesc, { signal });
  const base = existing ? { ...existing.manifest } : {};
  const manifest = { ...base, schemaVersion: 2, mediaType: MediaTypes.ociManifest, config: configDesc, layers };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const raw: RawManifest = { mediaType: MediaTypes.ociManifest, bytes, digest: digestOf(bytes) };
  await dst.commitManifest(raw, tag, { signal });
  const referrer = await pushReferrer(registry, ref, subject, payload, layer, signal);
  return { signatureRef: formatReference(sigRef), manifestDigest: raw.digest, added: true, referrer };
}

/**
 * True when the registry answers the OCI 1.1 referrers API for `digest` in `ref`'s repository (200 with an image
 * index); false on 404 or 405 (distribution 2.8 answers 404: no such route).
 */
export async function offersReferrers(registry: RegistryClient, ref: Reference, digest: Digest, signal?: AbortSignal): Promise<boolean> {
  const t = registry.transport;
  const url = new URL(`/v2/${ref.repository}/referrers/${digest}`, t.baseUrl(ref.registry));
  const res = await t.request({
    method: 'GET', url, registry: ref.registry, scopes: [`repository:${ref.repository}:pull`], expect: [200, 404, 405],
    headers: { accept: MediaTypes.ociIndex }, what: 'check referrers API', ref: formatReference(ref), signal,
  });
  const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  await res.body.dump().catch(() => undefined);
  return res.status === 200 && type === MediaTypes.ociIndex;
}

/** Pushes the signature as an OCI 1.1 referrer of `subject` (empty config, the payload layer) where the registry offers it. */
async function pushReferrer(registry: RegistryClient, ref: Reference, subject: Descriptor, payload: Buffer, layer: Descriptor, signal?: AbortSignal): Promise<'pushed' | 'unsupported'> {
  if (!(await offersReferrers(registry, ref, subject.digest, signal))) return 'unsupported';
  const dst = registry.destination({ registry: ref.registry, repository: ref.repository, digest: subject.digest });
  const empty = Buffer.from('{}');
  const emptyDesc: Descriptor = { mediaType: MediaTypes.ociEmpty, digest: digestOf(empty), size: empty.length };
  await dst.putBlob(Readable.from([empty]), emptyDesc, { signal });
  await dst.putBlob(Readable.from([payload]), layer, { signal });
  const doc = {
    schemaVersion: 2, mediaType: MediaTypes.ociManifest, artifactType: SIGNATURE_ARTIFACT_TYPE, config: emptyDesc, layers: [layer],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  const bytes = Buffer.from(JSON.stringify(doc));
  const raw: RawManifest = { mediaType: MediaTypes.ociManifest, bytes, digest: digestOf(bytes) };
  await dst.commitManifest(raw, raw.digest, { signal });
  return 'pushed';
}
