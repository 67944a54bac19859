/**
 * Platform checks of a build's bases, before and instead of network work: a `FROM --platform=` value is checked
 * when the build starts (with its Dockerfile line), and a base the store holds only for other platforms is
 * reported as such, naming the platforms it has, instead of as a failed pull from a registry the name never
 * pointed at.
 */
import { TsbuildError, formatPlatform, isAttestationManifest, parsePlatform, platformMatches, withLocation, type LayerStore, type Platform } from '../../layer-store/index.js';
import { parseReference } from '../../registry-client/index.js';
import type { ResolvedStage } from '../frontend/index.js';
import { BuildError } from '../plan/index.js';

type Where = { readonly file: string; readonly line: number; readonly endLine: number };

/** Returns the stage's platform: its `FROM --platform=` value parsed (errors carry the FROM line), else `dflt`. */
export function stagePlatform(rs: ResolvedStage, dflt: Platform): Platform {
  if (rs.platform === '' && rs.stage.platform !== undefined) {
    // BuildKit's words: a --platform that expands to nothing is an error, not the default platform.
    const l = rs.stage.location;
    throw new BuildError(`empty platform value from expression ${rs.stage.platform}`, {
      location: { file: l.file, line: l.line, endLine: l.endLine },
      hint: 'declare the ARG it uses before the first FROM (or pass it with --build-arg), or drop --platform',
    });
  }
  if (!rs.platform) return dflt;
  try {
    return parsePlatform(rs.platform);
  } catch (e) {
    const l = rs.stage.location;
    throw withLocation(e, { file: l.file, line: l.line, endLine: l.endLine });
  }
}

/**
 * Returns the platforms the store holds under `ref` (an image's, or each child's of an index) when `ref` names
 * something local and none of them is `want`; undefined when `ref` is not local or has `want`.
 */
export async function otherLocalPlatforms(store: LayerStore, ref: string, want: Platform): Promise<Platform[] | undefined> {
  let have: Platform[];
  try {
    const obj = await store.resolve(ref);
    have = obj.kind === 'image' ? [store.platformOf(obj)] : obj.index.manifests.flatMap((m) => (m.platform && !isAttestationManifest(m) ? [m.platform] : []));
  } catch (e) {
    if (TsbuildError.is(e) && (e.code === 'IMAGE_NOT_FOUND' || e.code === 'INVALID_REFERENCE')) return undefined;
    throw e;
  }
  return have.some((p) => platformMatches(want, p)) ? undefined : have;
}

/**
 * True when `ref` writes its registry (a first component with `.` or `:`, or `localhost`): the registry it
 * names is where its other platforms come from. A bare name (`app`, `team/app`: docker.io implied) that the
 * store holds is taken as a local image, and is not looked up on Docker Hub for another platform unless the
 * build asks with --pull.
 */
export function namesRegistry(ref: string): boolean {
  const slash = ref.indexOf('/');
  if (slash < 0) return false;
  const first = ref.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost';
}

/** Returns the registry host `ref` pulls from (docker.io for bare names). */
function registryOf(ref: string): string {
  try {
    return parseReference(ref).registry;
  } catch {
    return 'its registry';
  }
}

/**
 * Returns the error for a base the store holds only for other platforms: what it has, where (the FROM line),
 * and what to do; with `pullFailure`, the pull that was tried is summed up in the hint.
 */
export function missingPlatformError(ref: string, want: Platform, have: readonly Platform[], where: Where, pullFailure?: unknown): BuildError {
  const w = formatPlatform(want);
  const list = have.length ? have.map(formatPlatform).join(', ') : 'no platform';
  const first = have[0] ? formatPlatform(have[0]) : undefined;
  const build = `${first ? `build with --platform ${first}, or ` : ''}make ${ref} for ${w} first (tsbuild build --platform ${w} -t ${ref} …)`;
  const why = pullFailure === undefined ? undefined : TsbuildError.is(pullFailure) ? pullFailure.message : pullFailure instanceof Error ? pullFailure.message : String(pullFailure);
  return new BuildError(`base image ${ref} has no ${w} image: the store has it for ${list} only`, {
    location: where,
    hint: why !== undefined
      ? `pulling it for ${w} from ${registryOf(ref)} failed too (${why.slice(0, 200)}); ${build}`
      : `${build}, or pass --pull to fetch it for ${w} from ${registryOf(ref)}`,
    ...(pullFailure !== undefined ? { cause: pullFailure } : {}),
  });
}
