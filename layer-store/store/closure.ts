/**
 * What a stored image reaches: the closure of a manifest or index (index → children → config + layers), read
 * from the store's blobs. Used by tagging (nothing is named before its whole closure is stored), by gc (what is
 * live) and by resolve (the descriptor of a manifest known only by digest).
 *
 * Every document is read through readBlob, so it is digest-verified and size-capped before it is parsed.
 */
import { MediaTypes, parseConfig, parseManifest, type Descriptor, type Digest } from '../core/index.js';
import { blobSize, readBlob } from './blobs.js';
import { BlobNotFoundError } from './errors.js';
import type { StoreLayout } from './layout.js';

/** Options of references. */
export interface ReferencesOptions {
  /** Skip missing or unreadable children instead of failing (gc: a root may be a leaf blob or half gone). */
  tolerateMissing?: boolean;
  /** Collects the diffIDs of every image config reached (the snapshots gc must keep). */
  diffIds?: Set<Digest>;
}

/**
 * Returns the digests `desc` references, itself included (index → children → config + layers).
 * With tolerateMissing, missing or unreadable children are skipped instead of failing.
 */
export async function references(layout: StoreLayout, desc: Descriptor, o: ReferencesOptions = {}): Promise<Set<Digest>> {
  const out = new Set<Digest>();
  const walk = async (d: Descriptor): Promise<void> => {
    if (out.has(d.digest)) return;
    out.add(d.digest);
    let p: ReturnType<typeof parseManifest>;
    try {
      p = parseManifest(await readBlob(layout, d.digest, { kind: 'image manifest' }), d.mediaType, d.digest);
    } catch (e) {
      if (o.tolerateMissing) return; // missing, unreadable, or a leaf blob given as a gc root
      throw e;
    }
    if (p.kind === 'index') {
      for (const c of p.index.manifests) {
        if (c.mediaType === MediaTypes.ociManifest || c.mediaType === MediaTypes.ociIndex || c.mediaType === MediaTypes.dockerManifest || c.mediaType === MediaTypes.dockerManifestList) await walk(c);
        else out.add(c.digest);
      }
      return;
    }
    out.add(p.manifest.config.digest);
    for (const l of p.manifest.layers) out.add(l.digest);
    // An artifact's config (an attestation manifest's empty `{}`) lists no diffIDs.
    if (o.diffIds && (p.manifest.config.mediaType === MediaTypes.ociConfig || p.manifest.config.mediaType === MediaTypes.dockerConfig)) {
      try {
        const c = parseConfig(await readBlob(layout, p.manifest.config.digest, { kind: 'image config' }), p.manifest.config.digest);
        for (const id of c.rootfs.diff_ids) o.diffIds.add(id);
      } catch (e) {
        if (!o.tolerateMissing) throw e;
      }
    }
  };
  await walk(desc);
  return out;
}

/** Throws BlobNotFoundError unless `desc` and every blob it references are stored. */
export async function checkClosure(layout: StoreLayout, desc: Descriptor): Promise<void> {
  for (const d of await references(layout, desc, { tolerateMissing: false })) {
    if (blobSize(layout, d) === undefined) throw new BlobNotFoundError(d, { hint: 'the image is incomplete (a concurrent prune may have removed it); pull, build or load it again' });
  }
}

/** Returns the descriptor of a stored manifest/index blob (media type from its content), or undefined when it is not one. */
export async function describeManifestBlob(layout: StoreLayout, d: Digest): Promise<Descriptor | undefined> {
  try {
    const bytes = await readBlob(layout, d, { kind: 'image manifest' });
    const p = parseManifest(bytes, undefined, d);
    return { mediaType: p.mediaType, digest: d, size: bytes.length };
  } catch {
    return undefined;
  }
}
