/**
 * What a build's result becomes besides files: the named images ("targets") its outputs ask for, as buildx
 * folds its flags into exporters (build/opt.go, commands/build.go): each `type=image|registry` output is one
 * (named by `-t` when there are tags, else by its `name=`); `--push` makes them push, or is one of its own that
 * pushes the tags; with neither, the tags name the image in the store. Each target and each oci/docker archive has an image format (media types and
 * annotations); the result is rewritten once per distinct format. Pure, except `checkTargets`' host platform.
 */
import { TsbuildError, hostPlatform, normalizeTagName, type Platform } from '../../layer-store/index.js';
import { parseReference } from '../../registry-client/index.js';
import type { Annotation } from '../execute/annotations.js';
import { checkImageFormat, formatKey, type ImageFormat } from '../execute/image-format.js';
import type { ImageOutputFormat, OutputSpec } from '../execute/output-spec.js';

export interface ImageTarget {
  /** Names in the store (and, with `push`, in their registries); may be empty (the image is recorded unnamed). */
  readonly names: readonly string[];
  readonly push: boolean;
  readonly format: ImageFormat;
}

export interface TargetInputs {
  readonly tags?: readonly string[] | undefined;
  readonly outputs?: readonly OutputSpec[] | undefined;
  readonly push?: boolean | undefined;
  readonly annotations?: readonly Annotation[] | undefined;
  readonly platforms?: readonly Platform[] | undefined;
  readonly compression?: 'gzip' | 'zstd' | undefined;
}

/** Returns the format an output (or the default, `{}`) writes: its own attributes over the build's annotations. */
export function formatOf(i: TargetInputs, x: ImageOutputFormat): ImageFormat {
  return { ociMediaTypes: x.ociMediaTypes ?? true, annotations: [...(i.annotations ?? []), ...(x.annotations ?? [])] };
}

/** Returns the names an image-carrying output gives: the tags when there are any (buildx replaces `name=`), else its own. */
export function namesOf(i: TargetInputs, own: readonly string[] | undefined): readonly string[] {
  return i.tags?.length ? i.tags : own ?? [];
}

/** Returns the named images the flags ask for (see the header), at least one. */
export function imageTargets(i: TargetInputs): ImageTarget[] {
  const out: ImageTarget[] = [];
  // --push makes every image output push, or adds one (buildx's RunBuild).
  for (const x of i.outputs ?? []) {
    if (x.type === 'image') out.push({ names: namesOf(i, x.names), push: x.push === true || i.push === true, format: formatOf(i, x) });
  }
  if (i.push && out.length === 0) out.push({ names: i.tags ?? [], push: true, format: formatOf(i, {}) });
  if (out.length === 0) out.push({ names: i.tags ?? [], push: false, format: formatOf(i, {}) });
  return out;
}

/** Returns every name the targets give, once each, in order. */
export function allNames(targets: readonly ImageTarget[]): string[] {
  return [...new Set(targets.flatMap((t) => t.names))];
}

/** True when the format leaves the built image as it is (OCI media types, no annotations). */
export function isPlainFormat(f: ImageFormat): boolean {
  return f.ociMediaTypes && f.annotations.length === 0;
}

/**
 * Throws, before any work, what would fail only after the build: a push without a name ("tag is needed when
 * pushing to registry"), a name to push that is no registry reference, one name given two different formats,
 * a docker archive of several platforms, formats BuildKit refuses for these platforms (image-format.ts
 * checkImageFormat), zstd with Docker types.
 */
export function checkTargets(i: TargetInputs, targets: readonly ImageTarget[]): void {
  const built = i.platforms?.length ? i.platforms : [hostPlatform()];
  const isIndex = (i.platforms?.length ?? 0) > 1;
  if (isIndex && (i.outputs ?? []).some((x) => x.type === 'docker')) {
    throw new TsbuildError('USAGE', 'docker exporter does not support exporting manifest lists, use the oci exporter instead', { location: { ref: '--output type=docker' }, hint: 'write -o type=oci,dest=FILE, or build one --platform' });
  }
  const formats = [...targets.map((t) => t.format)];
  for (const x of i.outputs ?? []) if (x.type === 'oci' || x.type === 'docker') formats.push(formatOf(i, x));
  for (const f of formats) {
    checkImageFormat(f, isIndex, built);
    if (!f.ociMediaTypes && i.compression === 'zstd') {
      throw new TsbuildError('USAGE', 'exporter option "compression=zstd" conflicts with "oci-mediatypes=false"', { location: { ref: '--compression zstd' }, hint: 'Docker media types have no zstd layers: use --compression gzip' });
    }
  }
  const byName = new Map<string, string>();
  for (const t of targets) {
    if (t.push && t.names.length === 0) throw new TsbuildError('USAGE', 'push needs a name (buildx: tag is needed when pushing to registry)', { hint: 'add -t REGISTRY/REPO:TAG or name=REGISTRY/REPO:TAG' });
    for (const n of t.names) {
      if (t.push) parseReference(n);
      const k = normalizeTagName(n);
      const f = formatKey(t.format);
      if (byName.has(k) && byName.get(k) !== f) {
        throw new TsbuildError('USAGE', `${n} is given two different image formats by two outputs`, { location: { ref: n }, hint: 'give the outputs the same oci-mediatypes and annotation attributes, or different names' });
      }
      byName.set(k, f);
    }
  }
}
