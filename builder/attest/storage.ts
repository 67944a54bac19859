/**
 * Where attestations live, exactly as BuildKit stores them (docs/attestations/attestation-storage.md,
 * exporter/containerimage/writer.go with its current default `oci-artifact=true`): the image becomes an OCI
 * index (a single platform too) listing the platform manifests first, then one attestation manifest per
 * platform image. An attestation manifest is an OCI image manifest with `artifactType`
 * `application/vnd.docker.attestation.manifest.v1+json`, the OCI empty config (`{}`), one layer per in-toto
 * statement (`application/vnd.in-toto+json`, annotated `in-toto.io/predicate-type`) and `subject` = the image
 * manifest; its index entry has platform `unknown/unknown` and the annotations `vnd.docker.reference.type:
 * attestation-manifest` and `vnd.docker.reference.digest: <image manifest digest>`.
 *
 * `attachAttestations` writes blobs (leased first) and returns the new index's descriptor; it names nothing.
 * `readAttestations` reads them back from the store, checking each one: a malformed attestation manifest, or one
 * whose reference digest names no image of the index, is an INVALID_MANIFEST error naming it.
 */
import {
  ATTESTATION_PLATFORM, AttestationAnnotations, MediaTypes, TsbuildError, encodeDocument, formatPlatform, isAttestationManifest,
  isIndexType, parseJson, parseManifest,
  type Abortable, type Descriptor, type Digest, type ImageIndex, type ImageManifest, type LayerStore, type Lease, type Platform,
} from '../../layer-store/index.js';
import { IN_TOTO_MEDIA_TYPE, type InTotoStatement } from './intoto.js';

/** BuildKit's artifactType of an attestation manifest. */
export const ATTESTATION_ARTIFACT_TYPE = 'application/vnd.docker.attestation.manifest.v1+json';

/** The OCI empty JSON descriptor (image-spec's DescriptorEmptyJSON), with its inline data as BuildKit writes it. */
const EMPTY_JSON = { mediaType: MediaTypes.ociEmpty, digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a' as Digest, size: 2, data: 'e30=' };

export interface AttachOptions extends Abortable {
  /** Every blob written is recorded here before it is written (lease.ts's protocol). */
  readonly lease?: Lease | undefined;
}

/** A platform image of an index: its descriptor (with platform) and the statements about it. */
export type StatementsFor = (image: Descriptor & { readonly platform: Platform }) => Promise<readonly InTotoStatement[]>;

async function putDoc(store: LayerStore, bytes: Uint8Array, desc: Descriptor, o: AttachOptions): Promise<void> {
  await o.lease?.add({ blobs: [desc.digest] });
  await store.putBytes(bytes, desc, o.signal ? { signal: o.signal } : {});
}

/**
 * Returns the descriptor of a new index holding `desc`'s platform images (an image manifest becomes the one
 * entry, with its platform) followed by one attestation manifest per image that `statementsFor` gives
 * statements for; the index's own annotations and descriptor annotations are kept. Attestation manifests
 * already in an index are replaced. Throws USAGE for Docker media types (as BuildKit: `cannot export
 * attestations with "oci-mediatypes=false"`).
 */
export async function attachAttestations(store: LayerStore, desc: Descriptor, statementsFor: StatementsFor, o: AttachOptions = {}): Promise<Descriptor> {
  if (desc.mediaType.startsWith('application/vnd.docker.')) {
    throw new TsbuildError('USAGE', 'cannot export attestations with "oci-mediatypes=false"', { location: { ref: '--provenance/--sbom/--attest' }, hint: 'keep OCI media types, or turn attestations off with --provenance=false' });
  }
  let images: (Descriptor & { platform: Platform })[];
  let base: Omit<ImageIndex, 'manifests'> = { schemaVersion: 2, mediaType: MediaTypes.ociIndex };
  const obj = await store.load(desc);
  if (obj.kind === 'image') {
    const platform = desc.platform ?? store.platformOf(obj);
    images = [{ mediaType: obj.descriptor.mediaType, digest: obj.descriptor.digest, size: obj.descriptor.size, ...(desc.annotations ? { annotations: desc.annotations } : {}), platform }];
  } else {
    const { manifests, ...rest } = obj.index;
    base = { ...rest, mediaType: MediaTypes.ociIndex };
    images = manifests.filter((m) => !isAttestationManifest(m)).map((m) => ({ ...m, platform: m.platform ?? ATTESTATION_PLATFORM }));
  }
  const attestations: Descriptor[] = [];
  for (const img of images) {
    const stmts = await statementsFor(img);
    if (stmts.length === 0) continue;
    const layers: Descriptor[] = [];
    for (const s of stmts) {
      const enc = encodeDocument(s, IN_TOTO_MEDIA_TYPE);
      const d: Descriptor = { ...enc.descriptor, annotations: { [AttestationAnnotations.predicateType]: s.predicateType } };
      await putDoc(store, enc.bytes, d, o);
      layers.push(d);
    }
    await putDoc(store, Buffer.from('{}'), { mediaType: EMPTY_JSON.mediaType, digest: EMPTY_JSON.digest, size: EMPTY_JSON.size }, o);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: ATTESTATION_ARTIFACT_TYPE,
      config: EMPTY_JSON,
      layers,
      subject: { mediaType: img.mediaType, digest: img.digest, size: img.size },
    };
    const enc = encodeDocument(manifest, MediaTypes.ociManifest);
    await putDoc(store, enc.bytes, enc.descriptor, o);
    attestations.push({
      ...enc.descriptor,
      annotations: { [AttestationAnnotations.referenceDigest]: img.digest, [AttestationAnnotations.referenceType]: AttestationAnnotations.attestationManifest },
      platform: ATTESTATION_PLATFORM,
    });
  }
  const index = { ...base, manifests: [...images, ...attestations] };
  const enc = encodeDocument(index, MediaTypes.ociIndex);
  await putDoc(store, enc.bytes, enc.descriptor, o);
  return { ...enc.descriptor, ...(obj.kind === 'index' && desc.annotations ? { annotations: desc.annotations } : {}) };
}

/** One statement read back: the platform image it is about, its predicate type and the statement. */
export interface StoredAttestation {
  readonly platform: Platform;
  /** The image manifest the attestation manifest refers to. */
  readonly image: Digest;
  /** The attestation manifest. */
  readonly manifest: Digest;
  readonly predicateType: string;
  readonly statement: InTotoStatement;
}

function malformed(where: string, what: string): TsbuildError {
  return new TsbuildError('INVALID_MANIFEST', `malformed attestation manifest ${where}: ${what}`, {
    location: { ref: where }, hint: 'the image index carries a broken attestation: rebuild and push it again, or copy it without attestations (--platform)',
  });
}

/**
 * Returns every in-toto statement attached to the index `desc` in the store (none for an image manifest), in
 * index order; throws INVALID_MANIFEST naming the attestation manifest that is malformed, refers to no image of
 * the index, or whose statement blob does not parse.
 */
export async function readAttestations(store: LayerStore, desc: Descriptor): Promise<StoredAttestation[]> {
  if (!isIndexType(desc.mediaType)) return [];
  const idx = parseManifest(await store.readBlob(desc.digest), desc.mediaType, desc.digest);
  if (idx.kind !== 'index') return [];
  return statementsOfIndex(idx.index, (d) => store.readBlob(d));
}

/**
 * Returns the statements of an index's attestation manifests, reading blobs with `read` (verified by the
 * caller's store or source); see readAttestations for the errors.
 */
export async function statementsOfIndex(index: ImageIndex, read: (d: Digest) => Promise<Uint8Array>): Promise<StoredAttestation[]> {
  const images = new Map(index.manifests.filter((m) => !isAttestationManifest(m)).map((m) => [m.digest as string, m]));
  const out: StoredAttestation[] = [];
  for (const a of index.manifests) {
    if (!isAttestationManifest(a)) continue;
    const where = a.digest;
    const ref = a.annotations?.[AttestationAnnotations.referenceDigest];
    if (!ref) throw malformed(where, `no ${AttestationAnnotations.referenceDigest} annotation`);
    const image = images.get(ref);
    if (!image) throw malformed(where, `it refers to ${ref}, which is no image of the index`);
    let m: ImageManifest;
    try {
      const p = parseManifest(await read(a.digest), a.mediaType, a.digest);
      if (p.kind !== 'manifest') throw new Error('it is an index, not a manifest');
      m = p.manifest;
    } catch (e) {
      if (TsbuildError.is(e) && e.code === 'BLOB_NOT_FOUND') throw malformed(where, 'its manifest is not stored');
      throw malformed(where, (e as Error).message);
    }
    for (const l of m.layers) {
      if (l.mediaType !== IN_TOTO_MEDIA_TYPE) continue; // unknown media types are ignored (attestation-storage.md)
      let st: InTotoStatement;
      try {
        st = parseJson(await read(l.digest), `attestation ${l.digest}`, undefined, { maxBytes: 40 << 20 }) as InTotoStatement;
      } catch (e) {
        throw malformed(where, `layer ${l.digest}: ${(e as Error).message}`);
      }
      if (typeof st !== 'object' || st === null || typeof st.predicateType !== 'string') throw malformed(where, `layer ${l.digest} is no in-toto statement`);
      out.push({ platform: image.platform ?? ATTESTATION_PLATFORM, image: image.digest, manifest: a.digest, predicateType: st.predicateType, statement: st });
    }
  }
  return out;
}

/** Returns `p` as BuildKit's platforms.Format writes it (the key of buildx's per-platform maps). */
export function platformKey(p: Platform): string {
  return formatPlatform(p);
}
