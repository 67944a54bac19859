/**
 * The last touch on a built image before it is named, pushed or archived, as BuildKit's image writer
 * (exporter/containerimage/writer.go) does it: media types (OCI, or Docker v2 schema 2 with
 * `oci-mediatypes=false`) and annotations (index, index descriptor, manifests, manifest descriptors). Layers and
 * configs are never rewritten: only manifests and the index are new documents, so the image ID (the config
 * digest) stays the same. Rules kept from BuildKit: `index`/`index-descriptor` annotations need an index
 * (several platforms); Docker media types carry no index, index-descriptor or manifest-descriptor annotations
 * and no zstd layers; a platform-qualified annotation must name a platform that was built.
 */
import {
  TsbuildError, MediaTypes, formatPlatform, isIndexType, platformMatches,
  type Abortable, type Descriptor, type ImageIndex, type ImageManifest, type LayerStore, type Lease, type Platform,
} from '../../layer-store/index.js';
import { encodeDocument, toDockerLayerType, toOciLayerType } from '../../layer-store/index.js';
import { annotationsKey, type Annotation, type AnnotationType } from './annotations.js';

export interface ImageFormat {
  /** false: Docker v2 schema 2 media types. */
  readonly ociMediaTypes: boolean;
  readonly annotations: readonly Annotation[];
}

/** Returns a text equal for equal formats (outputs with the same format share one rewritten image). */
export function formatKey(f: ImageFormat): string {
  return `${f.ociMediaTypes ? 'oci' : 'docker'}|${annotationsKey(f.annotations)}`;
}

/** Returns the annotations of `type` that apply to `platform` (unqualified ones apply to every platform). */
function pick(list: readonly Annotation[], type: AnnotationType, platform?: Platform): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  // Unqualified first, so that a platform-qualified value wins for its platform (BuildKit's Platform()).
  for (const a of list) if (a.type === type && !a.platform) out[a.key] = a.value;
  for (const a of list) if (a.type === type && a.platform && platform && platformMatches(a.platform, platform)) out[a.key] = a.value;
  return Object.keys(out).length ? out : undefined;
}

function usage(message: string, hint: string): TsbuildError {
  return new TsbuildError('USAGE', message, { location: { ref: '--annotation/--output' }, hint });
}

/**
 * Throws a USAGE error for a format BuildKit refuses for this result: index annotations without an index,
 * descriptor or index annotations with Docker media types, a platform qualifier naming no built platform.
 * `platforms`: the platforms built (one for a single image).
 */
export function checkImageFormat(f: ImageFormat, isIndex: boolean, platforms: readonly Platform[]): void {
  for (const a of f.annotations) {
    if (!isIndex && (a.type === 'index' || a.type === 'index-descriptor')) {
      throw usage(`index annotations not supported for single platform export (${a.type}:${a.key})`, 'build several platforms (--platform a,b) or annotate the manifest');
    }
    if (!f.ociMediaTypes && a.type !== 'manifest') {
      throw usage(`cannot export annotations with "oci-mediatypes=false" (${a.type}:${a.key})`, 'Docker media types carry only manifest annotations: drop oci-mediatypes=false or the annotation');
    }
    if (a.platform && !platforms.some((p) => platformMatches(a.platform!, p))) {
      throw usage(`invalid annotation: no platform ${formatPlatform(a.platform)} found in source (${a.type}[${formatPlatform(a.platform)}]:${a.key})`, `the build made ${platforms.map(formatPlatform).join(', ')}`);
    }
  }
}

/** Returns the media type of a layer in the asked format (zstd in Docker format is a USAGE error). */
function layerType(mt: string, oci: boolean): string {
  if (oci) return toOciLayerType(mt);
  try {
    return toDockerLayerType(mt);
  } catch (e) {
    throw new TsbuildError('USAGE', `"compression=zstd" conflicts with "oci-mediatypes=false" (layer ${mt})`, { hint: 'build with --compression gzip, or keep OCI media types', cause: e });
  }
}

/** Returns the manifest written in format `f` for `platform` (documents only; no store access). */
function rewriteManifest(m: ImageManifest, f: ImageFormat, platform: Platform | undefined): ImageManifest {
  const annotations = { ...(m.annotations ?? {}), ...(pick(f.annotations, 'manifest', platform) ?? {}) };
  return {
    schemaVersion: 2,
    mediaType: f.ociMediaTypes ? MediaTypes.ociManifest : MediaTypes.dockerManifest,
    config: { mediaType: f.ociMediaTypes ? MediaTypes.ociConfig : MediaTypes.dockerConfig, digest: m.config.digest, size: m.config.size },
    // Docker media types carry no layer annotations (BuildKit's RemoveInternalLayerAnnotations).
    layers: m.layers.map(({ annotations: la, ...l }) => ({ ...l, mediaType: layerType(l.mediaType, f.ociMediaTypes), ...(la && f.ociMediaTypes ? { annotations: la } : {}) })),
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
}

/** Options of formatImage: the lease the new documents are recorded in before they are written. */
export interface FormatImageOptions extends Abortable {
  readonly lease?: Lease | undefined;
  /**
   * The platform a single image was built for (`manifest[PLATFORM]` annotations match it, as checkImageFormat
   * checks them); default: the platform its config records. An index's children carry their own.
   */
  readonly platform?: Platform | undefined;
}

/** Stores `doc` as a blob (leased first, lease.ts's protocol); returns its descriptor. */
async function put(store: LayerStore, doc: object, mediaType: string, o: FormatImageOptions): Promise<Descriptor> {
  const enc = encodeDocument(JSON.parse(JSON.stringify(doc)) as object, mediaType); // drops undefined fields
  await o.lease?.add({ blobs: [enc.digest] });
  await store.putBytes(enc.bytes, enc.descriptor, o.signal ? { signal: o.signal } : {});
  return enc.descriptor;
}

/**
 * Returns the descriptor of the image `desc` (a manifest or an index in the store) written in format `f`: new
 * manifest and index blobs in the store where anything changes (the same descriptor when nothing does), with the
 * descriptor annotations on the returned descriptor (manifest-descriptor for one image, index-descriptor for an
 * index) and on the index's entries. Names nothing: the caller tags or writes the result (under a lease: the
 * new blobs are unreferenced until then). Call checkImageFormat first.
 */
export async function formatImage(store: LayerStore, desc: Descriptor, f: ImageFormat, o: FormatImageOptions = {}): Promise<Descriptor> {
  if (f.ociMediaTypes && f.annotations.length === 0 && !desc.mediaType.startsWith('application/vnd.docker.')) return desc;
  const obj = await store.load(desc);
  if (obj.kind === 'image') {
    const platform = desc.platform ?? o.platform ?? { os: obj.config.os, architecture: obj.config.architecture, ...(obj.config.variant ? { variant: obj.config.variant } : {}) };
    const m = rewriteManifest(obj.manifest, f, platform);
    const d = await put(store, m, m.mediaType!, o);
    const da = pick(f.annotations, 'manifest-descriptor', platform);
    return { ...d, ...(desc.platform ? { platform: desc.platform } : {}), ...(da ? { annotations: da } : {}) };
  }
  const children: Descriptor[] = [];
  for (const child of obj.index.manifests) {
    if (!isIndexType(child.mediaType) && !child.mediaType.includes('manifest')) { children.push(child); continue; }
    const { platform: _p, ...co } = o;
    const c = await formatImage(store, child, { ...f, annotations: f.annotations.filter((a) => a.type === 'manifest' || a.type === 'manifest-descriptor') }, co);
    children.push(c);
  }
  const ia = pick(f.annotations, 'index');
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: f.ociMediaTypes ? MediaTypes.ociIndex : MediaTypes.dockerManifestList,
    manifests: children,
    ...(ia ? { annotations: ia } : {}),
  };
  const d = await put(store, index, index.mediaType!, o);
  const da = pick(f.annotations, 'index-descriptor');
  return { ...d, ...(da ? { annotations: da } : {}) };
}
