/**
 * OCI annotations for the built image, in buildx's and BuildKit's words: `--annotation [TYPES:]KEY=VALUE`, where
 * TYPES is a comma-separated list of `index`, `index-descriptor`, `manifest`, `manifest-descriptor`, each
 * optionally qualified by a platform in square brackets (`manifest[linux/arm64]`); no prefix means `manifest`.
 * The same annotations may come as output attributes (`annotation.KEY=V`, `annotation-TYPE[PLATFORM].KEY=V`), as
 * BuildKit's exporters read them. Pure: parsing only; image-format.ts applies them.
 */
import { TsbuildError, formatPlatform, parsePlatform, type Platform } from '../../layer-store/index.js';

export const ANNOTATION_TYPES = ['index', 'index-descriptor', 'manifest', 'manifest-descriptor'] as const;
/** Where an annotation goes: the index, the index's descriptor, each manifest, or each manifest's descriptor. */
export type AnnotationType = (typeof ANNOTATION_TYPES)[number];

export interface Annotation {
  readonly type: AnnotationType;
  /** Only for `manifest`/`manifest-descriptor`: the platform whose manifest it is for; undefined: every one. */
  readonly platform?: Platform | undefined;
  readonly key: string;
  readonly value: string;
}

const TYPE_AND_PLATFORM = /^([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?$/;
/** BuildKit's exporter attribute form (exptypes' keyAnnotationRegexp). */
const ATTRIBUTE = /^annotation(?:-([a-z-]+))?(?:\[([A-Za-z0-9_/-]+)\])?\.(\S+)$/;
const HINT = 'write --annotation KEY=VALUE or --annotation TYPE[,TYPE…]:KEY=VALUE with TYPE one of index, index-descriptor, manifest, manifest-descriptor (optionally TYPE[os/arch])';

/** Returns the annotation type and platform of one `TYPE[PLATFORM]` (a USAGE error naming `where` otherwise). */
function typeOf(typ: string, platform: string | undefined, where: string): { type: AnnotationType; platform?: Platform } {
  if (!(ANNOTATION_TYPES as readonly string[]).includes(typ)) {
    throw new TsbuildError('USAGE', `unknown annotation type ${JSON.stringify(typ)}`, { location: { ref: where }, hint: HINT });
  }
  const type = typ as AnnotationType;
  if (platform === undefined) return { type };
  let p: Platform;
  try {
    p = parsePlatform(platform);
  } catch (e) {
    throw new TsbuildError('USAGE', `invalid platform ${JSON.stringify(platform)} in annotation type ${typ}[${platform}]`, { location: { ref: where }, hint: 'write a platform such as linux/amd64 or linux/arm/v7', cause: e });
  }
  // BuildKit keeps a platform only for manifest-level annotations; the index is one for every platform.
  return type === 'manifest' || type === 'manifest-descriptor' ? { type, platform: p } : { type };
}

/**
 * Returns the annotations of one `--annotation` value (several when it names several types). Throws a USAGE
 * error for a value without `=`, an unknown type or a bad platform, as buildx does.
 */
export function parseAnnotation(spec: string): Annotation[] {
  const where = `--annotation ${spec}`;
  const eq = spec.indexOf('=');
  if (eq < 0) throw new TsbuildError('USAGE', `invalid annotation ${JSON.stringify(spec)}, expected key=value`, { location: { ref: where }, hint: HINT });
  const k = spec.slice(0, eq);
  const value = spec.slice(eq + 1);
  const colon = k.indexOf(':');
  if (colon < 0) return [{ type: 'manifest', key: k, value }];
  const key = k.slice(colon + 1);
  const out: Annotation[] = [];
  for (const tp of k.slice(0, colon).split(',')) {
    const m = TYPE_AND_PLATFORM.exec(tp);
    if (!m) throw new TsbuildError('USAGE', `invalid annotation type ${JSON.stringify(tp)}, expected type and optional platform in square brackets`, { location: { ref: where }, hint: HINT });
    out.push({ ...typeOf(m[1]!, m[2], where), key, value });
  }
  if (key === '') throw new TsbuildError('USAGE', `invalid annotation ${JSON.stringify(spec)}: the key is empty`, { location: { ref: where }, hint: HINT });
  return out;
}

/**
 * Returns the annotation an output attribute carries (`annotation.K`, `annotation-index.K`,
 * `annotation-manifest[linux/arm64].K`), undefined when `key` is not an annotation attribute.
 */
export function parseAnnotationAttribute(key: string, value: string, where: string): Annotation | undefined {
  if (!key.startsWith('annotation')) return undefined;
  const m = ATTRIBUTE.exec(key);
  if (!m) return undefined;
  return { ...typeOf(m[1] ?? 'manifest', m[2], where), key: m[3]!, value };
}

/** Returns a stable text for a set of annotations (equal sets, equal texts): for grouping outputs by format. */
export function annotationsKey(list: readonly Annotation[]): string {
  return JSON.stringify(list.map((a) => [a.type, a.platform ? formatPlatform(a.platform) : '', a.key, a.value]).sort());
}
