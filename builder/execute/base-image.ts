/**
 * Where a stage starts: its base state (scratch, an earlier stage's result, or an image from the store, pulled
 * when missing), and the layers a `COPY --from` / `RUN --mount=from=` names. A base image is leased before its
 * blobs are checked, so a concurrent prune either ran before (then it is pulled again) or keeps it.
 */
import { TsbuildError, familiarTagName, formatPlatform, normalizeTagName, platformMatches, type Digest, type Platform, type StoredImage } from '../../layer-store/index.js';
import { namedContextFor, suggest, type InstructionLocation, type ResolvedStage } from '../frontend/index.js';
import { BuildError, DEFAULT_PATH, cc, cloneConfig, emptyConfig } from '../plan/index.js';
import { missingPlatformError, namesRegistry, otherLocalPlatforms, stagePlatform } from './base-platform.js';
import { baseLayers, loc, type BuildCtx, type StageLayer, type StageState } from './context.js';

/** The created time of history entries of a scratch stage before its first layer (no wall clock: reproducible). */
const SCRATCH_TIME = '1970-01-01T00:00:00.000Z';

/** Returns the state a stage starts from: its base's config (cloned: the stage's own), layers and key. */
export async function baseState(ctx: BuildCtx, rs: ResolvedStage): Promise<StageState> {
  const platform = stagePlatform(rs, ctx.platform);
  switch (rs.base.kind) {
    case 'scratch':
      return { config: emptyConfig(platform), layers: [], key: `scratch:${formatPlatform(platform)}`, parentKind: 'base', parentName: 'scratch', platform, time: ctx.o.sourceDateEpoch !== undefined ? ctx.created : SCRATCH_TIME };
    case 'stage': {
      const parent = await ctx.results.get(rs.base.index)!;
      const config = cloneConfig(parent.config);
      if (config.config) config.config.OnBuild = null;
      return { config, layers: [...parent.layers], key: parent.key, parentKind: 'step', time: parent.time, parentName: ctx.graph.order.find((s) => s.index === (rs.base as { index: number }).index)?.displayName ?? 'stage', platform: parent.platform };
    }
    case 'image': {
      const img = await loadBase(ctx, rs.base.ref, platform, rs.stage.location);
      const config = cloneConfig(img.config);
      // BuildKit gives a base image without PATH the default one, first in Env.
      const env = config.config?.Env ?? [];
      if (!env.some((e) => e.startsWith('PATH='))) cc(config).Env = [`PATH=${DEFAULT_PATH}`, ...env];
      if (img.manifest.layers.length !== img.config.rootfs.diff_ids.length) {
        throw new BuildError(`base image ${rs.base.ref} is inconsistent: ${img.manifest.layers.length} layers but ${img.config.rootfs.diff_ids.length} diff_ids`, { location: loc(rs.stage.location), hint: 'pull the image again (tsbuild pull --force) or run tsbuild fsck' });
      }
      return { config, layers: baseLayers(img), key: img.descriptor.digest, parentKind: 'base', parentName: rs.base.ref, platform: ctx.o.store.platformOf(img), time: ctx.o.sourceDateEpoch !== undefined ? ctx.created : img.config.created ?? SCRATCH_TIME };
    }
  }
}

/**
 * Returns the image `ref` for `platform` from the store, leased; pulls it (ctx.o.pullImage) when it is not there
 * or `pull` is set. Throws BuildError (not found) or the missing-platform error naming the local platforms.
 */
export async function loadBase(ctx: BuildCtx, ref: string, platform: Platform, location: InstructionLocation): Promise<StoredImage> {
  // Leases the image (manifest, config, layers and their snapshots), then checks that every blob is still there:
  // a prune that ran before the lease was recorded may have removed an untagged one (then: pull it again).
  const leased = async (img: StoredImage | undefined): Promise<StoredImage | undefined> => {
    if (!img) return undefined;
    const layers = img.manifest.layers.map((d, i) => ({ digest: d.digest, diffId: img.config.rootfs.diff_ids[i] })).filter((l): l is { digest: Digest; diffId: Digest } => l.diffId !== undefined);
    await ctx.lease.add({ blobs: [img.descriptor.digest, img.configDescriptor.digest, ...img.manifest.layers.map((l) => l.digest)], snapshots: layers.map((l) => l.diffId) });
    for (const d of [img.descriptor.digest, img.configDescriptor.digest, ...img.manifest.layers.map((l) => l.digest)]) {
      if (!(await ctx.o.store.hasBlob(d))) return undefined;
    }
    return img;
  };
  const tryLocal = async (): Promise<StoredImage | undefined> => {
    try {
      const img = await ctx.o.store.image(ref, { platform });
      const got = ctx.o.store.platformOf(img);
      // The name may point at a single-platform image of another platform (pulled for another build).
      return platformMatches(platform, got) ? img : undefined;
    } catch (e) {
      if (TsbuildError.is(e) && e.code === 'IMAGE_NOT_FOUND') return undefined;
      throw e;
    }
  };
  let img = ctx.o.pull ? undefined : await leased(await tryLocal());
  if (!img && ctx.o.pullImage) {
    // Held here for other platforms only: a bare name is a local image (no Docker Hub lookup without --pull);
    // a name that writes its registry is pulled from it, and if that fails the local platforms are the news.
    const others = ctx.o.pull ? undefined : await otherLocalPlatforms(ctx.o.store, ref, platform);
    if (others && !namesRegistry(ref)) throw missingPlatformError(ref, platform, others, loc(location));
    try {
      await ctx.o.pullImage(ref, platform, ctx.signal, ctx.lease);
    } catch (e) {
      if (others && !ctx.signal.aborted) throw missingPlatformError(ref, platform, others, loc(location), e);
      if (!ctx.signal.aborted) throw await resolvesNowhere(ctx, ref, location, e);
      throw e;
    }
    img = await leased(await tryLocal());
  }
  const others = img ? undefined : await otherLocalPlatforms(ctx.o.store, ref, platform);
  if (others) throw missingPlatformError(ref, platform, others, loc(location));
  if (!img) {
    throw new BuildError(`base image ${ref} not found`, {
      location: loc(location),
      hint: ctx.o.pullImage ? `check the name; the registry does not have ${ref} for ${formatPlatform(platform)}` : `pull it (tsbuild pull ${ref}) or create it (tsbuild import ROOTFS.tar ${ref})`,
    });
  }
  ctx.o.observe?.baseImage?.(ref, ctx.o.store.platformOf(img), img.descriptor.digest, ctx.platform);
  return img;
}

/**
 * The error for a name that is no stage of this Dockerfile, no local image and could not be pulled: the first
 * news is that nothing local has that name (with the closest stage or local image name), then why the pull failed.
 */
async function resolvesNowhere(ctx: BuildCtx, ref: string, location: InstructionLocation, pullFailure: unknown): Promise<BuildError> {
  // Every stage of the Dockerfile, needed by the target or not (a typo names no needed stage).
  const stages = ctx.ast.children.filter((n) => n.cmd === 'from' && n.args.length === 3 && n.args[1]!.toLowerCase() === 'as').map((n) => n.args[2]!);
  const local = (await ctx.o.store.listImages()).flatMap((e) => e.names).map(familiarTagName);
  const near = suggest(ref, stages) ?? suggest(shortName(ref), local);
  const why = pullFailure instanceof Error ? pullFailure.message : String(pullFailure);
  return new BuildError(`no stage or local image named ${ref}${near ? `; did you mean ${near}?` : ''} (pulling it failed: ${why})`, {
    location: loc(location),
    hint: near ? `write ${near}, or pull or import ${ref} first` : `check the name, define a stage named ${ref}, or pull or import the image first (tsbuild pull ${ref})`,
    cause: pullFailure,
  });
}

/** `docker.io/library/app:1` → `app:1`, as users write names (`ref` as written when it is no valid tag name). */
function shortName(ref: string): string {
  try {
    return familiarTagName(normalizeTagName(ref));
  } catch {
    return ref;
  }
}

/** The layers of `from`: a stage (by name or index) of this build, or an image reference. */
export async function sourceLayers(ctx: BuildCtx, rs: ResolvedStage, from: string, location: InstructionLocation = rs.stage.location): Promise<readonly StageLayer[]> {
  const edge = rs.edges.find((e) => e.via !== 'from' && stageMatches(ctx, e.stage, from));
  if (edge) return (await ctx.results.get(edge.stage)!).layers;
  const idx = ctx.graph.order.find((x) => x.stage.name === from.toLowerCase() || String(x.index) === from);
  if (idx) return (await ctx.results.get(idx.index)!).layers;
  const use = namedContextFor(ctx.o.namedContexts, from);
  if (use?.kind === 'stage') return sourceLayers(ctx, rs, use.name, location);
  if (use?.kind === 'image') return use.ref === 'scratch' ? [] : baseLayers(await loadBase(ctx, use.ref, ctx.platform, location));
  if (use?.kind === 'dir') throw new BuildError(`internal: the directory context ${from} has no layers`, { location: loc(location) });
  const img = await loadBase(ctx, from, ctx.platform, location);
  return baseLayers(img);
}

function stageMatches(ctx: BuildCtx, index: number, from: string): boolean {
  const s = ctx.graph.order.find((x) => x.index === index);
  return !!s && (s.stage.name === from.toLowerCase() || String(s.index) === from);
}
