/**
 * builder/execute: runs a resolved Dockerfile. Each stage starts from its base (scratch, an image in the store,
 * or an earlier stage); metadata instructions change the config; RUN runs in a container over an overlay of
 * the parent layers' snapshots; COPY/ADD/WORKDIR write through an overlay mount; every upper directory becomes
 * a content-addressed layer (and, renamed, that layer's snapshot). The image is committed last: blobs, config,
 * manifest, then the tags. A failure leaves only unreferenced blobs and no moved tag.
 */
import { accessSync, constants as fsConstants, lstatSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { lstat, mkdir, readFile, rm, stat, writeFile, chmod as fsChmod, lchown } from 'node:fs/promises';
import { join, posix, resolve as resolvePath, basename } from 'node:path';
import { Writable } from 'node:stream';
import {
  TsbuildError, digestOf, formatPlatform, hostPlatform, noopEvents, noopLogger, parsePlatform, throwIfAborted, MediaTypes,
  diffToLayerDeferred, exists, fsPath, readXattrTree, withLocation, isIndexType, platformMatches, Lease, withLock, normalizeTagName,
  type Descriptor, type Digest, type EventSink, type ImageConfig, type ImageManifest, type Logger, type Platform,
  type LayerStore, type StoredImage, type MissReason, type SegmentReuse, type XattrTable,
} from '../../layer-store/index.js';
import { ShellRunner, mountOverlay, unmount, resolveUser, checkBinfmt, isNativePlatform, type Limits, type Mount, type NetworkMode, type Runtime } from '../../runtime-exec/index.js';
import { explainMiss, hashSources, stepKey, StatCache, cacheMountDirName, type CacheRecord, type CacheStore, type MountKey, type RemoteCache, type StepInputs } from '../../cache/index.js';
import {
  parseDockerfile, toStages, resolveStageGraph, StageScope, parseMount, chompHeredocContent, parseInstruction, processWord,
  type DockerfileAst, type Instruction, type InstructionLocation, type ResolvedStage, type StageGraph, type RunMount,
  type CopyInstruction, type AddInstruction, type RunInstruction,
} from '../frontend/index.js';
import { loadDockerignore, selectSources, ContextMatcher, type DockerignoreInfo, type SelectedSource } from '../context/index.js';
import { contextBindView } from './context-view.js';
import { copyIntoRootfs, mkdirAllScoped, parseChmod, type CopyIntoOptions, type CopySource, type Owner } from './copy.js';
import {
  BuildError, StepFailedError, DEFAULT_PATH, cc, cloneConfig, commitHistory, emptyConfig, runCreatedBy, applyMetadata, applyWorkdir, runArgs,
  baseInputs as planInputs, keyEnv as planKeyEnv, runKey, workdirKey, mountMaterial, layersKey, copyKey, copyCreatedBy, stepIdOf,
} from '../plan/index.js';
import { scopedPath } from './scoped-path.js';
import { reclaimStaleScratch, scratchName } from './recover.js';
import { archiveKind, extractArchive, fetchUrl, type Fetched } from './add.js';
import { checkEntitlements, insecureNotAllowed, type Entitlement } from './entitlements.js';
import { missingPlatformError, namesRegistry, otherLocalPlatforms, stagePlatform } from './base-platform.js';

/** A secret given with `--secret id=ID,src=FILE` or `--secret id=ID,env=VAR`. */
export interface SecretSource {
  readonly id: string;
  readonly src?: string;
  readonly env?: string;
}

export interface BuildOptions {
  /** The build context directory. */
  readonly context: string;
  /** The Dockerfile path; default `<context>/Dockerfile`. */
  readonly dockerfile?: string | undefined;
  /** Names to tag the result with (normalised by the store). */
  readonly tags?: readonly string[] | undefined;
  /** `--build-arg`; undefined values mean "declared without a value". */
  readonly buildArgs?: Readonly<Record<string, string | undefined>> | undefined;
  readonly target?: string | undefined;
  /** `--label` values applied to the final image. */
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly noCache?: boolean | undefined;
  /** Stages (names) whose steps bypass the cache. */
  readonly noCacheFilter?: readonly string[] | undefined;
  /** Target platform; default the host's. */
  readonly platform?: Platform | undefined;
  readonly network?: NetworkMode | undefined;
  /** Entitlements granted (`--allow`): `security.insecure` lets `RUN --security=insecure` run (entitlements.ts). */
  readonly allow?: readonly Entitlement[] | undefined;
  readonly secrets?: readonly SecretSource[] | undefined;
  readonly limits?: Limits | undefined;
  /** Unix seconds: created times and layer mtimes are clamped to it (reproducible builds). */
  readonly sourceDateEpoch?: number | undefined;
  readonly compression?: 'gzip' | 'zstd' | undefined;
  /** Record an untagged result in index.json (default true); multi-platform builds tag the index instead. */
  readonly recordUntagged?: boolean | undefined;
  readonly store: LayerStore;
  readonly runtime: Runtime;
  readonly cache?: CacheStore | undefined;
  /** Caches imported with --cache-from: consulted on a local miss; a hit's layer is fetched then. */
  readonly remoteCaches?: readonly RemoteCache[] | undefined;
  /**
   * Called when a base image is not in the store (or `pull` is set): must put it there. `lease` is the build's:
   * wrap the store destination with `leaseDestination(dst, lease)` so blobs it skips as present stay leased.
   */
  readonly pullImage?: ((ref: string, platform: Platform, signal?: AbortSignal, lease?: Lease) => Promise<void>) | undefined;
  /** Always pull base images. */
  readonly pull?: boolean | undefined;
  readonly events?: EventSink | undefined;
  readonly logger?: Logger | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * The lease that keeps what the build uses and produces safe from a concurrent `prune` (layer-store lease.ts).
   * Default: the build acquires its own and releases it after tagging. Pass one (and release it yourself) when
   * the result is tagged later, e.g. by a multi-platform index.
   */
  readonly lease?: Lease | undefined;
}

export interface StepReport {
  readonly id: string;
  readonly name: string;
  readonly cached: boolean;
  readonly reason?: MissReason;
}

export interface BuildResult {
  /** The manifest descriptor of the built image. */
  readonly manifest: Descriptor;
  /** Digest of the manifest (what `--push` and `@sha256:` refer to). */
  readonly imageDigest: Digest;
  /** Digest of the config (Docker's image ID). */
  readonly configDigest: Digest;
  readonly config: ImageConfig;
  readonly tags: readonly string[];
  readonly steps: readonly StepReport[];
  /** Cache records of the steps that made the final image (its stage and the stages it is FROM): `mode=min`. */
  readonly finalRecords: readonly CacheRecord[];
  /** Cache records of every step of the build: `mode=max`. */
  readonly allRecords: readonly CacheRecord[];
  /** The cache mounts RUN steps used: `{id, dir}`, for exporting their contents with `mode=max`. */
  readonly cacheMounts: readonly { readonly id: string; readonly dir: string }[];
}

/**
 * One layer of a stage's filesystem: its blob and diffID. A layer this build just made may still be being
 * compressed (commitUpper): its diffID and snapshot are there, which is all the next steps need; its blob
 * descriptor arrives later, and only the image manifest and the cache record wait for it.
 */
interface LayerRef {
  readonly desc: Descriptor | Promise<Descriptor>;
  readonly diffId: Digest;
}

/** The result of a stage so far: config, layers base first, and the cache key chain. */
interface StageState {
  config: ImageConfig;
  layers: LayerRef[];
  /** Key of the last step (or the base's identity), the parent of the next step's key. */
  key: string;
  parentKind: 'base' | 'step';
  parentName: string;
  platform: Platform;
  /**
   * The time recorded for the next history entry: when the last layer-producing step's result was first made
   * (a cache hit keeps its original time), else the base's created time. A fully cached rebuild therefore
   * reproduces the same config and image digest. With SOURCE_DATE_EPOCH it is always the epoch.
   */
  time: string;
  /** Names of stage-local history to write (BuildKit writes history for every instruction). */
}

interface BuildCtx {
  readonly o: BuildOptions;
  readonly root: string;
  readonly tmp: string;
  readonly events: EventSink;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly platform: Platform;
  readonly created: string;
  readonly graph: StageGraph;
  readonly ast: DockerfileAst;
  readonly ignore: DockerignoreInfo;
  readonly contextDir: string;
  readonly results: Map<number, Promise<StageState>>;
  readonly steps: StepReport[];
  readonly statCache: StatCache | undefined;
  readonly cacheMountLocks: Map<string, Promise<void>>;
  /** Records used or created, per stage index. */
  readonly records: Map<number, CacheRecord[]>;
  readonly cacheMountsUsed: Map<string, string>;
  /** Holds every blob, snapshot, cache key and cache mount this build uses until its image is tagged. */
  readonly lease: Lease;
  /** Work that goes on behind the steps (compressing a layer, then writing its cache record); awaited before commit. */
  readonly background: Promise<unknown>[];
  /** The previous build's record of a step that now runs, by step id: its layer's segments may be reused. */
  readonly previous: Map<string, CacheRecord>;
  /** Forks the helper commands of the steps (mount, umount, getfattr, cp): one small shell, not this process. */
  readonly commands: ShellRunner;
  stepCounter: number;
}

const CACHE_RECORD_VERSION = 'tsbuild-step-v1';
/** The created time of history entries of a scratch stage before its first layer (no wall clock: reproducible). */
const SCRATCH_TIME = '1970-01-01T00:00:00.000Z';

/**
 * Returns the built image after committing it to the store and tagging it. Runs only the stages the target
 * needs; independent stages run concurrently. Throws TsbuildError with the Dockerfile location on failure,
 * after removing every temporary directory and mount it made.
 */
export async function build(o: BuildOptions): Promise<BuildResult> {
  validateSecrets(o.secrets ?? []);
  for (const t of o.tags ?? []) normalizeTagName(t); // a bad name fails now, not after the build (InvalidReferenceError)
  const contextDir = resolvePath(o.context);
  const cst = await stat(contextDir).catch(() => undefined);
  if (!cst?.isDirectory()) {
    throw new BuildError(`build context ${o.context} is not a directory`, { location: { ref: o.context }, hint: 'pass the directory that holds your sources, e.g. `tsbuild -t app .`' });
  }
  const dockerfile = o.dockerfile ?? join(contextDir, 'Dockerfile');
  let bytes: Buffer;
  try {
    bytes = await readFile(dockerfile);
  } catch (e) {
    throw new TsbuildError('DOCKERFILE_NOT_FOUND', `cannot read Dockerfile ${dockerfile}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, {
      location: { ref: dockerfile }, hint: 'pass the Dockerfile with -f FILE, or add a Dockerfile to the context', cause: e,
    });
  }
  const fileLabel = o.dockerfile ?? 'Dockerfile';
  const ast = parseDockerfile(bytes, { file: fileLabel });
  const events = o.events ?? noopEvents;
  for (const w of ast.warnings) events({ type: 'warning', message: w.message, location: { file: fileLabel, line: w.line } });
  const { stages, metaArgs } = toStages(ast, fileLabel);
  const platform = o.platform ?? hostPlatform();
  const buildArgs = o.buildArgs ?? {};
  const graph = resolveStageGraph(stages, metaArgs, {
    ...(o.target !== undefined ? { target: o.target } : {}),
    buildArgs,
    platform: { target: platform, build: hostPlatform() },
    escapeToken: ast.directives.escape,
  });
  for (const rs of graph.order) stagePlatform(rs, platform); // a bad FROM --platform fails before any work
  const ignore = await loadDockerignore(contextDir, o.dockerfile);
  if (ignore.excludesDockerfile) events({ type: 'warning', message: `.dockerignore excludes the Dockerfile (${basename(dockerfile)}); it is still used for the build but COPY cannot copy it` });
  for (const a of graph.unusedBuildArgs) events({ type: 'warning', message: `build argument ${a} was not consumed by any stage` });
  checkEntitlements(graph, o.allow ?? []);

  const root = o.store.root;
  await reclaimStaleScratch(join(root, 'tmp'), o.logger ?? noopLogger);
  // Taken before anything is read or written, so everything this build writes is covered by it (lease.ts).
  const lease = o.lease ?? (await Lease.acquire(root, o.signal ? { signal: o.signal } : {}));
  const tmp = join(root, 'tmp', scratchName('build', randomUUID()));
  await mkdir(tmp, { recursive: true });
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(o.signal?.reason);
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const created = o.sourceDateEpoch !== undefined ? new Date(o.sourceDateEpoch * 1000).toISOString() : new Date().toISOString();
  const ctx: BuildCtx = {
    o, root, tmp, events, log: o.logger ?? noopLogger, signal: ac.signal, platform, created, graph, ast, ignore, contextDir,
    results: new Map(), steps: [], stepCounter: 0,
    statCache: o.cache ? await StatCache.open(join(root, 'cache', 'stat'), { name: contextDir }) : undefined,
    cacheMountLocks: new Map(),
    records: new Map(),
    cacheMountsUsed: new Map(),
    lease,
    background: [],
    previous: new Map(),
    commands: new ShellRunner({ dir: tmp }),
  };
  try {
    for (const rs of graph.order) {
      const deps = rs.dependsOn.map((i) => ctx.results.get(i)!);
      const p = Promise.all(deps).then(() => runStage(ctx, rs));
      p.catch(() => ac.abort());
      ctx.results.set(rs.index, p);
    }
    let final: StageState;
    try {
      final = await ctx.results.get(graph.target)!;
    } catch (e) {
      await Promise.allSettled([...ctx.results.values()]);
      throw e;
    }
    await Promise.allSettled([...ctx.results.values()]);
    await settleBackground(ctx);
    if (ctx.statCache) await ctx.statCache.save().catch(() => undefined);
    return await commitImage(ctx, final);
  } finally {
    // Nothing may still write below tmp (or into the store) once the build has returned or thrown.
    await Promise.allSettled(ctx.background);
    await ctx.commands.close().catch(() => undefined);
    o.signal?.removeEventListener('abort', onAbort);
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    if (!o.lease) await lease.release();
  }
}

/** Waits for the background work; throws the first failure (the build then fails, nothing is tagged). */
async function settleBackground(ctx: BuildCtx): Promise<void> {
  for (let i = 0; i < ctx.background.length; i++) await ctx.background[i];
}

/** Runs `p` behind the steps: awaited before the image is committed, never an unhandled rejection. */
function inBackground(ctx: BuildCtx, p: Promise<unknown>): void {
  p.catch(() => undefined);
  ctx.background.push(p);
}

// ---------------------------------------------------------------------------------------------------------
// Stages

async function baseState(ctx: BuildCtx, rs: ResolvedStage): Promise<StageState> {
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
      const layers = img.manifest.layers.map((d, i) => ({ desc: d, diffId: img.config.rootfs.diff_ids[i]! }));
      if (layers.length !== img.config.rootfs.diff_ids.length) {
        throw new BuildError(`base image ${rs.base.ref} is inconsistent: ${layers.length} layers but ${img.config.rootfs.diff_ids.length} diff_ids`, { location: loc(rs.stage.location), hint: 'pull the image again (tsbuild pull --force) or run tsbuild fsck' });
      }
      return { config, layers, key: img.descriptor.digest, parentKind: 'base', parentName: rs.base.ref, platform: ctx.o.store.platformOf(img), time: ctx.o.sourceDateEpoch !== undefined ? ctx.created : img.config.created ?? SCRATCH_TIME };
    }
  }
}

async function loadBase(ctx: BuildCtx, ref: string, platform: Platform, location: InstructionLocation): Promise<StoredImage> {
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
  return img;
}

function loc(l: InstructionLocation): { file: string; line: number; endLine: number } {
  return { file: l.file, line: l.line, endLine: l.endLine };
}

async function runStage(ctx: BuildCtx, rs: ResolvedStage): Promise<StageState> {
  throwIfAborted(ctx.signal);
  const st = await baseState(ctx, rs);
  const baseName = rs.base.kind === 'image' ? rs.base.ref : rs.base.kind === 'scratch' ? 'scratch' : `stage ${rs.base.index}`;
  const stageLabel = rs.stage.name ?? (ctx.graph.order.length > 1 ? `stage-${rs.index}` : '');
  const commands: { ins: Instruction; onbuild: boolean }[] = [];
  // ONBUILD triggers of the base (an image or an earlier stage) run first, before the stage's own instructions.
  const triggers = rs.base.kind === 'scratch' ? [] : (rs.base.kind === 'stage' ? (await ctx.results.get(rs.base.index)!).config.config?.OnBuild : st.config.config?.OnBuild) ?? [];
  if (st.config.config) st.config.config.OnBuild = null;
  for (const t of triggers) {
    // Each trigger is one instruction; it reports the FROM line as its location (as BuildKit does).
    const tast = parseDockerfile(t, { file: rs.stage.location.file });
    for (const node of tast.children) {
      commands.push({ ins: parseInstruction({ ...node, line: rs.stage.location.line, endLine: rs.stage.location.endLine }, rs.stage.location.file), onbuild: true });
    }
  }
  for (const c of rs.stage.commands) commands.push({ ins: c, onbuild: false });
  const total = commands.length + 1;
  const prefix = (i: number): string => `[${stageLabel ? stageLabel + ' ' : ''}${i}/${total}]`;
  const fromId = `s${rs.index}-0`;
  ctx.events({ type: 'step.start', id: fromId, name: `${prefix(1)} FROM ${baseName}`, ...(stageLabel ? { stage: stageLabel } : {}), index: 1, total });
  ctx.events({ type: 'step.done', id: fromId });

  const scope = new StageScope({
    metaScope: ctx.graph.metaScope,
    buildArgs: ctx.o.buildArgs ?? {},
    baseEnv: st.config.config?.Env ?? [],
    escapeToken: ctx.ast.directives.escape,
  });
  const noCache = ctx.o.noCache === true || (rs.stage.name !== undefined && (ctx.o.noCacheFilter ?? []).includes(rs.stage.name));
  let cmdSet = false;
  for (let i = 0; i < commands.length; i++) {
    throwIfAborted(ctx.signal);
    const { ins: raw, onbuild } = commands[i]!;
    const ins = scope.apply(raw);
    const id = `s${rs.index}-${i + 1}`;
    const name = `${prefix(i + 2)} ${onbuild ? 'ONBUILD ' : ''}${displayOf(ins)}`;
    const t0 = Date.now();
    ctx.events({ type: 'step.start', id, name, ...(stageLabel ? { stage: stageLabel } : {}), index: i + 2, total });
    try {
      if (ins.kind === 'cmd') cmdSet = true;
      await dispatch(ctx, rs, st, scope, ins, id, name, noCache, cmdSet);
      ctx.events({ type: 'step.done', id, durationMs: Date.now() - t0 });
    } catch (err) {
      const e = asTsbuildError(err);
      withLocation(e, loc(ins.location));
      ctx.events({ type: 'step.done', id, error: e instanceof Error ? e.message : String(e), durationMs: Date.now() - t0 });
      throw e;
    }
  }
  return st;
}


/** Turns an out-of-space (or other system) error from a step into one clear TsbuildError; others pass through. */
function asTsbuildError(e: unknown): unknown {
  if (TsbuildError.is(e)) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new BuildError('no space left on the device holding --root', { hint: 'free space (tsbuild prune, tsbuild prune --cache) or point --root at a bigger filesystem; nothing was tagged', cause: e });
  }
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return new BuildError(`${(e as Error).message}`, { hint: 'a file system operation of this step failed; check permissions and space under --root', cause: e });
  }
  return e;
}

function displayOf(ins: Instruction): string {
  const s = ins.original.replace(/\s+/g, ' ');
  const first = s.split(' ')[0] ?? '';
  return first.toUpperCase() + s.slice(first.length);
}

// ---------------------------------------------------------------------------------------------------------
// Instructions

async function dispatch(ctx: BuildCtx, rs: ResolvedStage, st: StageState, scope: StageScope, ins: Instruction, id: string, name: string, noCache: boolean, cmdSet: boolean): Promise<void> {
  switch (ins.kind) {
    case 'from':
      throw new BuildError('unexpected FROM inside a stage', { hint: 'this is a bug in tsbuild' });
    case 'workdir':
      return workdir(ctx, rs, st, scope, ins.path, id, name, noCache);
    case 'run':
      return run(ctx, rs, st, scope, ins, id, name, noCache);
    case 'copy':
    case 'add':
      return copy(ctx, rs, st, scope, ins, id, name, noCache);
    default:
      applyMetadata(st.config, ins, { time: st.time, cmdSet });
  }
}

interface StepResult {
  readonly layer?: LayerRef;
}

/**
 * Runs a layer-producing step through the cache: on a hit the recorded layer is reused (its blob must still be
 * in the store); on a miss `produce` runs and its result is recorded. Emits step.cached / step.miss.
 */
async function cachedStep(ctx: BuildCtx, rs: ResolvedStage, st: StageState, inputs: StepInputs, id: string, name: string, noCache: boolean, produce: () => Promise<StepResult>): Promise<StepResult> {
  const key = stepKey(inputs);
  const cache = ctx.o.cache;
  const remember = (rec: CacheRecord): void => {
    const list = ctx.records.get(rs.index) ?? [];
    list.push(rec);
    ctx.records.set(rs.index, list);
  };
  const hit = (rec: CacheRecord): StepResult => {
    ctx.events({ type: 'step.cached', id });
    ctx.steps.push({ id, name, cached: true });
    st.key = key;
    st.parentKind = 'step';
    if (ctx.o.sourceDateEpoch === undefined) st.time = new Date(rec.createdAt).toISOString();
    remember(rec);
    const layer = rec.result.layer;
    return layer ? { layer: { desc: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size }, diffId: layer.diffId } } : {};
  };
  // A local hit is usable only when its layer blob is still stored; the layer is leased first, so a concurrent
  // prune either ran before (the check then fails: a miss) or keeps it until this build is done.
  const localHit = async (c: CacheStore): Promise<CacheRecord | undefined> => {
    const rec = await c.get(key);
    if (!rec) return undefined;
    const layer = rec.result.layer;
    if (layer) {
      await ctx.lease.addLayer(layer);
      if (!(await ctx.o.store.hasBlob(layer.digest))) return undefined;
    }
    await c.touch(key).catch(() => undefined);
    return rec;
  };
  let reason: MissReason;
  if (!cache) reason = { kind: 'no-cache', detail: 'cache disabled' };
  else if (noCache) reason = { kind: 'no-cache', detail: '--no-cache' };
  else {
    // The key is leased so `prune --cache` keeps the record this build reads or is about to write.
    await ctx.lease.add({ cacheKeys: [key] });
    const rec = await localHit(cache);
    if (rec) return hit(rec);
    for (const remote of ctx.o.remoteCaches ?? []) {
      const r = remote.get(key);
      if (!r) continue;
      try {
        if (r.result.layer) await ctx.lease.addLayer(r.result.layer);
        await remote.fetchLayer(r, ctx.o.store, { signal: ctx.signal });
      } catch (e) {
        if (TsbuildError.is(e) && e.code === 'ABORTED') throw e;
        ctx.events({ type: 'warning', message: `cache from ${remote.ref}: ${e instanceof Error ? e.message : String(e)}; running the step` });
        continue;
      }
      const local: CacheRecord = { ...r, lastUsedAt: Date.now() };
      await cache.put(local);
      ctx.events({ type: 'info', message: `${name}: cache hit from ${remote.ref}` });
      return hit(local);
    }
    const before = inputs.stepId ? await cache.nearest(inputs.stepId) : undefined;
    if (before) ctx.previous.set(id, before);
    reason = before ? explainMiss(inputs, before.inputs) : { kind: 'new-step', detail: 'no previous build of this step' };
  }
  // Runs the step; `recorded` settles once its cache record is written, which waits for the layer's blob when
  // that is still being compressed (the next step does not wait for it).
  const miss = async (): Promise<{ result: StepResult; recorded: Promise<void> }> => {
    ctx.events({ type: 'step.miss', id, reason });
    ctx.steps.push({ id, name, cached: false, reason });
    const r = await produce();
    const createdAt = Date.now();
    const record = async (): Promise<void> => {
      const desc = r.layer ? await r.layer.desc : undefined;
      const rec: CacheRecord = {
        key, inputs, createdAt, lastUsedAt: createdAt,
        result: r.layer && desc ? { emptyLayer: false, layer: { digest: desc.digest, diffId: r.layer.diffId, size: desc.size, mediaType: desc.mediaType } } : { emptyLayer: true },
      };
      if (cache) await cache.put(rec);
      remember(rec);
    };
    const recorded = r.layer && r.layer.desc instanceof Promise ? record() : Promise.resolve(await record());
    if (ctx.o.sourceDateEpoch === undefined) st.time = new Date(createdAt).toISOString();
    st.key = key;
    st.parentKind = 'step';
    return { result: r, recorded };
  };
  if (!cache || noCache) {
    const m = await miss();
    inBackground(ctx, m.recorded);
    return m.result;
  }
  // Step dedupe across processes (and stages): one builder per key at a time. Whoever gets the lock second finds
  // the record the first one wrote and takes the hit; a lock whose holder died is broken (lock.ts).
  const lockFile = stepLockPath(ctx.root, key);
  mkdirSync(join(lockFile, '..'), { recursive: true });
  if (lstatSync(lockFile, { throwIfNoEntry: false }) !== undefined) ctx.events({ type: 'info', message: `${name}: waiting for another build running the same step` });
  // The lock is held until the record is written (a second builder of this key then finds it and takes the
  // hit), but the step returns as soon as its result is usable.
  return new Promise<StepResult>((resolve, reject) => {
    let settled = false;
    const locked = withLock(lockFile, async () => {
      const again = await localHit(cache);
      if (again) {
        settled = true;
        resolve(hit(again));
        return;
      }
      const m = await miss();
      settled = true;
      resolve(m.result);
      await m.recorded;
    }, { timeoutMs: STEP_LOCK_TIMEOUT_MS, signal: ctx.signal });
    locked.catch((e: unknown) => { if (!settled) reject(e); });
    inBackground(ctx, locked);
  });
}

/** Returns the O_EXCL lock file that serialises builders of one cache key: `<root>/cache/locks/<key hex>.lock`. */
function stepLockPath(root: string, key: Digest): string {
  return join(root, 'cache', 'locks', `${key.slice('sha256:'.length)}.lock`);
}

/** How long a step waits for another builder of the same key (a live holder: its step is still running). */
const STEP_LOCK_TIMEOUT_MS = 6 * 60 * 60 * 1000;

function baseInputs(ctx: BuildCtx, st: StageState, rs: ResolvedStage, scope: StageScope, instruction: string, stepIndex: string, withEnv = false): StepInputs {
  return planInputs({
    parent: st.key, parentKind: st.parentKind, parentName: st.parentName, platform: st.platform,
    stepId: stepIdOf(ctx.contextDir, ctx.ast.file, rs.stage.name ?? rs.index, stepIndex),
  }, instruction, withEnv ? planKeyEnv(scope.runEnv({ includeProxy: false })) : []);
}

// --- snapshots and overlay work dirs -----------------------------------------------------------------------

/** Returns the snapshot directories of `layers`, top first (overlay lowerdir order). */
async function lowerDirs(ctx: BuildCtx, layers: readonly LayerRef[]): Promise<string[]> {
  const dirs = await Promise.all(layers.map((l) => ctx.o.store.snapshot(l.diffId, { ...(l.desc instanceof Promise ? {} : { layer: l.desc }), signal: ctx.signal })));
  return dirs.reverse();
}

interface Scratch {
  /** Work to do in the upper dir once the overlay is unmounted (a COPY that hard-links into it: copy.ts). */
  afterUnmount?: (() => Promise<void>)[];
  readonly dir: string;
  readonly upper: string;
  readonly work: string;
  readonly merged: string;
  /** The upper dir's xattrs, when read already (withMerged reads them while it unmounts). */
  xattrs?: Promise<XattrTable>;
}

async function scratchDirs(ctx: BuildCtx, label: string): Promise<Scratch> {
  const dir = join(ctx.tmp, `${label}-${randomUUID().slice(0, 8)}`);
  const s = { dir, upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged') };
  mkdirSync(s.upper, { recursive: true, mode: 0o755 });
  mkdirSync(s.work, { recursive: true });
  mkdirSync(s.merged, { recursive: true });
  return s;
}

/** Mounts the layers (+ a fresh upper) at a merged dir, runs `fn`, and always unmounts. */
async function withMerged<T>(ctx: BuildCtx, layers: readonly LayerRef[], s: Scratch, fn: (merged: string) => Promise<T>): Promise<T> {
  const lower = await lowerDirs(ctx, layers);
  await mountOverlay({ lower, upper: s.upper, work: s.work, target: s.merged, emptyLower: join(s.dir, 'empty'), commands: ctx.commands });
  let done = false;
  try {
    const r = await fn(s.merged);
    done = true;
    return r;
  } finally {
    // The upper dir is final once `fn` is done (and nothing is left for after the unmount): its xattrs (getfattr,
    // a helper process) are read while the overlay is unmounted (another one), not after.
    const after = s.afterUnmount ?? [];
    if (done && after.length === 0) {
      s.xattrs = readXattrTree(s.upper, ctx.signal, ctx.commands);
      s.xattrs.catch(() => undefined); // awaited by commitUpper
    }
    await unmount(s.merged, ctx.commands);
    if (done) for (const job of after) await job();
  }
}

/**
 * Packs the upper dir into a layer blob in the store and moves the upper dir into place as that layer's
 * snapshot. Returns undefined when the step changed nothing (BuildKit drops empty layers).
 */
async function commitUpper(ctx: BuildCtx, s: Scratch, id: string): Promise<LayerRef | undefined> {
  if (readdirSync(s.upper).length === 0) return undefined;
  const compression = ctx.o.compression ?? 'gzip';
  const reuse = compression === 'gzip' ? await previousSegments(ctx, id) : undefined;
  let deferred;
  try {
    deferred = await diffToLayerDeferred(s.upper, {
      sink: (compressed) => ctx.o.store.putBlob(compressed, {}, { signal: ctx.signal }),
      compression,
      ...(reuse ? { reuse: reuse.reuse } : {}),
      ...(s.xattrs ? { xattrTable: s.xattrs } : {}),
      commands: ctx.commands,
      ...(ctx.o.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.o.sourceDateEpoch } : {}),
      signal: ctx.signal,
      events: ctx.events,
      id,
    }, DEFER_COMPRESSION_MAX_BYTES);
  } catch (e) {
    await reuse?.close();
    throw e;
  }
  // The tar is identified and in memory: the snapshot is leased and moved into place, and the next step can run
  // on it while the blob is compressed behind it (a layer over the limit was compressed already).
  await ctx.lease.add({ snapshots: [deferred.diffId] });
  await ctx.o.store.installSnapshot(s.upper, deferred.diffId);
  const desc = (async (): Promise<Descriptor> => {
    let packed;
    try {
      packed = await deferred.compress();
    } finally {
      await reuse?.close();
    }
    // The blob was kept by the lease's time rule so far; from here on it is leased by name.
    await ctx.lease.addLayer(packed);
    if (packed.segments && ctx.o.cache) {
      await ctx.o.cache.putSegments(packed.digest, packed.segments);
      if (reuse) ctx.log.debug('layer segments', { step: id, reused: packed.reused, compressed: packed.compressedSegments });
    }
    return { mediaType: packed.mediaType, digest: packed.digest, size: packed.size };
  })();
  desc.catch(() => undefined); // awaited by the step's cache record and by commitImage; the build fails there
  return { desc, diffId: deferred.diffId };
}

/**
 * Layers whose files hold at most this much are read into memory and compressed behind the next step; bigger
 * ones are compressed before the step returns (their compression needs the files, and memory stays bounded).
 */
const DEFER_COMPRESSION_MAX_BYTES = 32 * 1024 * 1024;

/**
 * The compressed segments of the layer the previous build of step `id` made (its record is in ctx.previous),
 * as a reuse source for packing this build's layer: the parts of the tar that did not change are copied instead
 * of compressed again (each one checked first; see layer-store/layer/gzip-segments.ts). Undefined when there is
 * no such layer, no index, or its blob is gone.
 */
async function previousSegments(ctx: BuildCtx, id: string): Promise<{ reuse: SegmentReuse; close(): Promise<void> } | undefined> {
  const prev = ctx.previous.get(id)?.result.layer;
  if (!prev || !ctx.o.cache) return undefined;
  const index = await ctx.o.cache.segments(prev.digest);
  if (!index) return undefined;
  await ctx.lease.add({ blobs: [prev.digest] });
  const ranges = await ctx.o.store.openBlobRanges(prev.digest).catch(() => undefined);
  return ranges ? { reuse: { index, read: ranges.read }, close: ranges.close } : undefined;
}

/**
 * For an edited COPY: the snapshot of the layer the previous build of step `id` made, and which source files
 * (below `base`, the source dir's context path) are unchanged since then by the step's cache records, so that
 * copyIntoRootfs can hard-link those from it. Undefined when there is no previous layer or it is not unpacked.
 */
async function previousTree(ctx: BuildCtx, id: string, instruction: string, current: Record<string, string> | undefined, base: string, s: Scratch): Promise<CopyIntoOptions['previous']> {
  const prev = ctx.previous.get(id);
  const layer = prev?.result.layer;
  const before = prev?.inputs.sources?.files;
  // The same COPY (sources, destination, flags, working dir): its layer holds the file copied from the same path.
  if (!layer || !before || !current || prev.inputs.instruction !== instruction) return undefined;
  await ctx.lease.add({ snapshots: [layer.diffId] });
  const snapshot = await ctx.o.store.existingSnapshot(layer.diffId);
  if (!snapshot) return undefined;
  const prefix = base && base !== '.' ? `${base}/` : '';
  return {
    snapshot,
    upper: s.upper,
    afterUnmount: (job) => (s.afterUnmount ??= []).push(job),
    same: (rel) => {
      const k = prefix + rel;
      const was = before[k];
      return was !== undefined && was === current[k];
    },
  };
}

function pushLayer(st: StageState, layer: LayerRef | undefined): void {
  if (layer) st.layers.push(layer);
}

// --- WORKDIR -------------------------------------------------------------------------------------------------

async function workdir(ctx: BuildCtx, rs: ResolvedStage, st: StageState, scope: StageScope, path: string, id: string, name: string, noCache: boolean): Promise<void> {
  const wd = applyWorkdir(st.config, path);
  if (wd === '/') {
    commitHistory(st.config, `WORKDIR ${wd}`, false, st.time);
    return;
  }
  const user = st.config.config?.User ?? '';
  const inputs = baseInputs(ctx, st, rs, scope, workdirKey(wd, user), id);
  const r = await cachedStep(ctx, rs, st, inputs, id, name, noCache, async () => {
    const s = await scratchDirs(ctx, 'workdir');
    await withMerged(ctx, st.layers, s, async (merged) => {
      const owner = user ? await resolveUser(await lowerDirs(ctx, st.layers), user).catch(() => ({ uid: 0, gid: 0 })) : { uid: 0, gid: 0 };
      await mkdirAllScoped(merged, wd, { uid: owner.uid, gid: owner.gid });
    });
    return { ...(await commitUpperOpt(ctx, s, id)) };
  });
  pushLayer(st, r.layer);
  commitHistory(st.config, `WORKDIR ${wd}`, r.layer !== undefined, st.time);
}

async function commitUpperOpt(ctx: BuildCtx, s: Scratch, id: string): Promise<{ layer?: LayerRef }> {
  const l = await commitUpper(ctx, s, id);
  return l ? { layer: l } : {};
}


// --- RUN -----------------------------------------------------------------------------------------------------

async function run(ctx: BuildCtx, rs: ResolvedStage, st: StageState, scope: StageScope, ins: RunInstruction, id: string, name: string, noCache: boolean): Promise<void> {
  const security = ins.security ?? 'sandbox';
  if (security === 'insecure' && !ctx.o.allow?.includes('security.insecure')) throw insecureNotAllowed(ins.location);
  const args = runArgs(st.config, ins);
  const runEnv = scope.runEnv();
  const env = new Map<string, string>();
  for (const e of st.config.config?.Env ?? []) {
    const i = e.indexOf('=');
    env.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
  }
  for (const [k, v] of runEnv) env.set(k, v);
  if (!env.has('PATH')) env.set('PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
  const vars = scope.vars();
  const mounts = ins.mountSpecs.map((m) => parseMount(m, ins.location, (w) => processWord(w, vars, { escapeToken: ctx.ast.directives.escape })));
  const network: NetworkMode = ins.network ?? ctx.o.network ?? 'default';
  const user = st.config.config?.User ?? '';
  const cwd = st.config.config?.WorkingDir || '/';
  const mountKeys: MountKey[] = [];
  for (const m of mounts) mountKeys.push(await mountKey(ctx, rs, m));
  const inputs: StepInputs = {
    ...baseInputs(ctx, st, rs, scope, runKey(args, { user, cwd, network, security }), id, true),
    mounts: mountKeys,
  };
  const historyArgs = scope.historyArgs();
  const r = await cachedStep(ctx, rs, st, inputs, id, name, noCache, async () => {
    if (!isNativePlatform(st.platform)) await checkBinfmt(st.platform);
    const s = await scratchDirs(ctx, 'run');
    const lower = await lowerDirs(ctx, st.layers);
    const runUser = user ? await resolveUser(lower, user) : { uid: 0, gid: 0, additionalGids: [] };
    const cleanups: (() => Promise<void>)[] = [];
    try {
      const rtMounts = await runMounts(ctx, rs, mounts, runUser, s, cleanups);
      // Secrets exposed as variables: seen by the step only, never in the key, the config or the history.
      const stepEnv = new Map([...env, ...rtMounts.env]);
      const tail: string[] = [];
      const sink = (stream: 'stdout' | 'stderr'): Writable => new Writable({
        write(chunk: Buffer, _e, cb) {
          const data = chunk.toString('utf8');
          ctx.events({ type: 'step.log', id, stream, data });
          for (const l of data.split('\n')) if (l.trim()) tail.push(l);
          if (tail.length > 20) tail.splice(0, tail.length - 20);
          cb();
        },
      });
      const { exitCode } = await ctx.o.runtime.run({
        commands: ctx.commands,
        rootfs: { lower, upper: s.upper, work: s.work },
        args,
        env: [...stepEnv].map(([k, v]) => `${k}=${v}`),
        cwd,
        user: runUser,
        network,
        security,
        mounts: rtMounts.mounts,
        ...(ctx.o.limits ? { limits: ctx.o.limits } : {}),
        platform: st.platform,
      }, { stdout: sink('stdout'), stderr: sink('stderr') }, ctx.signal);
      if (exitCode !== 0) {
        throw new StepFailedError(`RUN ${ins.cmdLine.join(' ')}`, exitCode, tail, { location: loc(ins.location) });
      }
      return await commitUpperOpt(ctx, s, id);
    } finally {
      for (const c of cleanups.reverse()) await c().catch(() => undefined);
    }
  });
  pushLayer(st, r.layer);
  commitHistory(st.config, runCreatedBy(args, historyArgs), true, st.time);
  const last = st.config.history![st.config.history!.length - 1]!;
  if (!r.layer) last.empty_layer = true;
}

/**
 * A mount as it enters the step's key. A bind mount's source counts by its content, as BuildKit's does: the
 * digest of the context files it selects (what .dockerignore keeps), or the source stage's or image's layers.
 */
async function mountKey(ctx: BuildCtx, rs: ResolvedStage, m: RunMount): Promise<MountKey> {
  if (m.type !== 'bind') return mountMaterial(m);
  if (m.from !== undefined) return mountMaterial(m, layersKey((await sourceLayers(ctx, rs, m.from)).map((l) => l.diffId)));
  const sel = await selectBindSource(ctx, m);
  return mountMaterial(m, ctx.statCache ? (await hashSources(ctx.contextDir, { sources: [sel], paths: sel.entries.map((e) => e.relPath) }, ctx.statCache, { signal: ctx.signal })).digest : 'context');
}

/** The context path a bind mount without `from` selects, .dockerignore applied; a missing or ignored one is an error naming it. */
async function selectBindSource(ctx: BuildCtx, m: RunMount): Promise<SelectedSource> {
  try {
    const sel = await selectSources(ctx.contextDir, [m.source ?? '.'], ctx.ignore.matcher, { signal: ctx.signal });
    return sel.sources[0]!;
  } catch (e) {
    if (TsbuildError.is(e) && e.code === 'CONTEXT') {
      throw new BuildError(e.message.replace(/^COPY source/, `RUN --mount=type=bind source`), { hint: e.hint ?? 'check the mount\'s source= path in the build context' });
    }
    throw e;
  }
}

/** What a RUN step's mounts give the runtime: the mounts, and the variables secrets with `env=` set. */
interface RunMountsResult {
  readonly mounts: Mount[];
  readonly env: Map<string, string>;
}

async function runMounts(ctx: BuildCtx, rs: ResolvedStage, mounts: readonly RunMount[], user: { uid: number; gid: number }, s: Scratch, cleanups: (() => Promise<void>)[]): Promise<RunMountsResult> {
  const out: Mount[] = [];
  const env = new Map<string, string>();
  let n = 0;
  for (const m of mounts) {
    const target = m.target;
    switch (m.type) {
      case 'tmpfs':
        out.push({ type: 'tmpfs', target: target!, ...(m.size !== undefined ? { size: m.size } : {}) });
        break;
      case 'cache': {
        const cid = m.id ?? target!;
        const dir = join(ctx.root, 'cache-mounts', cacheMountDirName(cid));
        await ctx.lease.add({ paths: [`cache-mounts/${cacheMountDirName(cid)}`] });
        ctx.cacheMountsUsed.set(cid, dir);
        if (!(await exists(dir))) {
          await mkdir(dir, { recursive: true });
          await fsChmod(dir, m.mode ?? 0o755);
          await lchown(dir, m.uid ?? 0, m.gid ?? 0);
        }
        if (m.sharing === 'locked' || m.sharing === 'private') {
          const prev = ctx.cacheMountLocks.get(dir) ?? Promise.resolve();
          let release!: () => void;
          const mine = new Promise<void>((r) => (release = r));
          ctx.cacheMountLocks.set(dir, prev.then(() => mine));
          await prev;
          cleanups.push(async () => release());
        }
        out.push({ type: 'bind', source: dir, target: target!, readonly: m.readOnly });
        break;
      }
      case 'secret': {
        // BuildKit (dispatchSecret): the id is id= or source=, else the target's base name; the default target
        // is /run/secrets/ID; with env= and no target the secret is a variable only, with both it is both.
        const sid = m.id ?? m.source ?? (target ? posix.basename(target) : '');
        const sec = (ctx.o.secrets ?? []).find((x) => x.id === sid);
        if (!sec) {
          if (m.required) throw new BuildError(`secret ${sid} is required but was not given`, { hint: `pass --secret id=${sid},src=FILE` });
          break;
        }
        const data = await readSecret(sec);
        if (m.env !== undefined) env.set(m.env, data.toString('utf8'));
        if (m.env !== undefined && target === undefined) break;
        const file = join(s.dir, `secret-${randomUUID().slice(0, 8)}`);
        await writeFile(file, data, { mode: m.mode ?? 0o400 });
        await lchown(file, m.uid ?? user.uid, m.gid ?? user.gid);
        cleanups.push(() => rm(file, { force: true }));
        out.push({ type: 'bind', source: file, target: target ?? `/run/secrets/${posix.basename(sid)}`, readonly: true });
        break;
      }
      case 'bind': {
        if (m.from) {
          // A stage or image: an overlay with a throwaway upper, so `rw` writes are discarded too.
          const view = await stageView(ctx, rs, m.from, cleanups);
          const src = await scopedPath(view, m.source ?? '/', true);
          out.push({ type: 'bind', source: src, target: target!, readonly: m.readOnly });
          break;
        }
        const sel = await selectBindSource(ctx, m);
        const dir = join(s.dir, `bind-${n++}`);
        await mkdir(dir);
        const view = await contextBindView(ctx.contextDir, sel, dir, cleanups, {
          writable: !m.readOnly, filtered: ctx.ignore.patterns.length > 0, commands: ctx.commands, signal: ctx.signal,
        });
        out.push({ type: 'bind', source: view.path, target: target!, readonly: m.readOnly });
        break;
      }
      case 'ssh':
        throw new BuildError('RUN --mount=type=ssh is not supported yet', { hint: 'remove the ssh mount; tsbuild has no SSH agent forwarding' });
    }
  }
  return { mounts: out, env };
}

/**
 * Checks, before anything is read or run, that every secret given can be read: a missing or unreadable file,
 * or an unset variable, fails the build naming the flag (as buildx does for a file), never a step without it.
 */
export function validateSecrets(secrets: readonly SecretSource[]): void {
  for (const sec of secrets) {
    const flag = `--secret id=${sec.id},${sec.env !== undefined ? `env=${sec.env}` : `src=${sec.src ?? ''}`}`;
    if (sec.env !== undefined) {
      if (process.env[sec.env] === undefined) throw new TsbuildError('USAGE', `${flag}: environment variable ${sec.env} is not set`, { hint: `export ${sec.env}, or pass the secret as src=FILE` });
      continue;
    }
    try {
      accessSync(sec.src ?? '', fsConstants.R_OK);
      if (!statSync(sec.src ?? '').isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EISDIR' });
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as NodeJS.ErrnoException).code === 'EISDIR' ? 'not a regular file' : 'cannot be read';
      throw new TsbuildError('USAGE', `${flag}: ${sec.src ?? ''}: ${why}`, { hint: 'pass the path of a readable file holding the secret', cause: e });
    }
  }
}

/** A secret's bytes; validateSecrets checked before the build that the file or variable is there. */
async function readSecret(sec: SecretSource): Promise<Buffer> {
  if (sec.env !== undefined) {
    const v = process.env[sec.env];
    if (v === undefined) throw new BuildError(`secret ${sec.id}: environment variable ${sec.env} is not set`, { hint: `set ${sec.env}, or pass --secret id=${sec.id},src=FILE` });
    return Buffer.from(v);
  }
  return readFile(sec.src ?? '');
}

/** Mounts a read-only-ish view (overlay with a throwaway upper) of a stage or image's filesystem; returns its dir. */
async function stageView(ctx: BuildCtx, rs: ResolvedStage, from: string, cleanups: (() => Promise<void>)[]): Promise<string> {
  const layers = await sourceLayers(ctx, rs, from);
  const v = await scratchDirs(ctx, 'view');
  const lower = await lowerDirs(ctx, layers);
  await mountOverlay({ lower, upper: v.upper, work: v.work, target: v.merged, emptyLower: join(v.dir, 'empty'), commands: ctx.commands });
  cleanups.push(async () => {
    await unmount(v.merged, ctx.commands);
    await rm(v.dir, { recursive: true, force: true });
  });
  return v.merged;
}

/** The layers of `from`: a stage (by name or index) of this build, or an image reference. */
async function sourceLayers(ctx: BuildCtx, rs: ResolvedStage, from: string): Promise<LayerRef[]> {
  const edge = rs.edges.find((e) => e.via !== 'from' && stageMatches(ctx, e.stage, from));
  if (edge) return (await ctx.results.get(edge.stage)!).layers;
  const idx = ctx.graph.order.find((x) => x.stage.name === from.toLowerCase() || String(x.index) === from);
  if (idx) return (await ctx.results.get(idx.index)!).layers;
  const img = await loadBase(ctx, from, ctx.platform, rs.stage.location);
  return img.manifest.layers.map((d, i) => ({ desc: d, diffId: img.config.rootfs.diff_ids[i]! }));
}

function stageMatches(ctx: BuildCtx, index: number, from: string): boolean {
  const s = ctx.graph.order.find((x) => x.index === index);
  return !!s && (s.stage.name === from.toLowerCase() || String(s.index) === from);
}

// --- COPY / ADD ----------------------------------------------------------------------------------------------

async function copy(ctx: BuildCtx, rs: ResolvedStage, st: StageState, scope: StageScope, ins: CopyInstruction | AddInstruction, id: string, name: string, noCache: boolean): Promise<void> {
  const c = cc(st.config);
  const from = ins.kind === 'copy' ? ins.from : undefined;
  const cwd = c.WorkingDir || '/';
  let dest = ins.dest;
  const destIsDirSyntax = dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
  dest = posix.isAbsolute(dest) ? dest : posix.join(cwd, dest);
  const isUrl = (src: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(src);
  for (const src of ins.sources) {
    if (ins.kind === 'copy' && isUrl(src)) throw new BuildError(`COPY does not download URLs (${src})`, { hint: 'use ADD for URLs' });
    if (/^git@/.test(src) || (isUrl(src) && /\.git(#|$)/.test(src))) {
      throw new BuildError(`ADD from a git repository (${src}) is not supported`, { hint: 'clone the repository into the build context and COPY it' });
    }
    if (isUrl(src) && !/^https?:\/\//i.test(src)) throw new BuildError(`ADD ${src}: only http and https URLs can be downloaded`, { hint: 'put the file into the build context' });
  }
  const urlSources = ins.sources.filter(isUrl);
  const localSources = ins.sources.filter((x) => !isUrl(x));
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const downloads: Fetched[] = [];
    if (urlSources.length > 0) {
      const dl = join(ctx.tmp, `download-${randomUUID().slice(0, 8)}`);
      await mkdir(dl, { recursive: true });
      cleanups.push(() => rm(dl, { recursive: true, force: true }));
      for (const u of urlSources) {
        ctx.events({ type: 'step.log', id, stream: 'stderr', data: `downloading ${u}\n` });
        downloads.push(await fetchUrl(u, dl, ins.kind === 'add' ? ins.checksum : undefined, ctx.signal));
      }
    }
    // Resolve the sources: from the context (with .dockerignore), or from a stage / image filesystem.
    let srcRoot: string;
    let matcher: ContextMatcher;
    let layersKeyStr: string;
    if (from) {
      // The key names the source stage's layers; its files are looked at only when the step runs (a cache hit
      // mounts nothing of the source stage).
      const layers = await sourceLayers(ctx, rs, from);
      srcRoot = '';
      matcher = ContextMatcher.none;
      layersKeyStr = layersKey(layers.map((l) => l.diffId));
    } else {
      srcRoot = ctx.contextDir;
      matcher = ctx.ignore.matcher;
      layersKeyStr = 'context';
    }
    const select = async (): Promise<Awaited<ReturnType<typeof selectSources>>> => {
      if (!from) return localSources.length > 0 ? selectSources(srcRoot, localSources, matcher, { signal: ctx.signal }) : { sources: [], paths: [] };
      srcRoot = await stageView(ctx, rs, from, cleanups);
      try {
        return localSources.length > 0 ? await selectSources(srcRoot, localSources, matcher, { signal: ctx.signal }) : { sources: [], paths: [] };
      } catch (e) {
        // Name the stage, not the temporary mount the files were looked for in.
        if (TsbuildError.is(e) && e.code === 'CONTEXT') {
          throw new BuildError(`${e.message.replace('in the build context', `in ${/^\d+$/.test(from) ? `stage ${from}` : from}`)}`, { hint: `check the path in the filesystem of --from=${from}` });
        }
        throw e;
      }
    };
    const contextSelection = from ? undefined : await select();
    const heredocs = ins.sourceContents;
    let sourcesDigest: string;
    let files: Record<string, string> | undefined;
    if (contextSelection && ctx.statCache) {
      const h = await hashSources(srcRoot, contextSelection, ctx.statCache, { ownership: ins.chown === undefined ? false : true, signal: ctx.signal });
      sourcesDigest = h.digest;
      files = { ...h.files };
    } else {
      sourcesDigest = layersKeyStr;
    }
    const inputs: StepInputs = {
      ...baseInputs(ctx, st, rs, scope, copyKey(ins, cwd, from ? { name: from, layers: layersKeyStr } : undefined, downloads), id),
      ...(from ? {} : { sources: { digest: sourcesDigest as Digest, ...(files ? { files } : {}) } }),
    };
    const r = await cachedStep(ctx, rs, st, inputs, id, name, noCache, async () => {
      const s = await scratchDirs(ctx, 'copy');
      // A source stage's view is mounted while this step's overlay is (two helper processes at once).
      const selecting = contextSelection ? Promise.resolve(contextSelection) : select();
      selecting.catch(() => undefined);
      // Settled before this step's cleanups run, so a view mounted late is still unmounted.
      cleanups.push(() => selecting.then(() => undefined, () => undefined));
      await withMerged(ctx, st.layers, s, async (merged) => {
        const selection = await selecting;
        const multiple = selection.sources.length + heredocs.length + downloads.length > 1;
        let owner: Owner | undefined;
        if (ins.chown) {
          owner = await resolveChown(ctx, st, ins.chown);
        } else if (!from) {
          owner = { uid: 0, gid: 0 };
        }
        const chmodFn = ins.chmod ? parseChmod(ins.chmod) : undefined;
        const excludeMatcher = ins.exclude.length > 0 ? new ContextMatcher(ins.exclude) : undefined;
        const sources: (CopySource & { keep?: Set<string>; base: string; archive?: boolean; sub?: string })[] = [];
        for (const sel of selection.sources) {
          const hostPath = join(srcRoot, sel.resolvedPath);
          const stt = await lstat(fsPath(hostPath));
          const keep = new Set(sel.entries.map((e) => e.relPath));
          const name = basename(sel.relPath === '.' ? srcRoot : sel.relPath);
          const archive = ins.kind === 'add' && ins.unpack !== false && stt.isFile() && (await archiveKind(hostPath)) !== undefined;
          // COPY --parents keeps each source's path below the context root (BuildKit's labs flag).
          // A directory keeps its own path (its contents land below it); a file lands in its parent's path.
          const parentDir = ins.kind === 'copy' && ins.parents ? (stt.isDirectory() ? sel.relPath : posix.dirname(sel.relPath)) : '.';
          // Nothing below is excluded (no .dockerignore patterns, no --exclude): the fast whole-tree copy may be used.
          const wholeTree = stt.isDirectory() && ins.exclude.length === 0 && (from !== undefined || ctx.ignore.patterns.length === 0);
          sources.push({ hostPath, name, stat: stt, keep, base: sel.resolvedPath, archive, wholeTree, ...(parentDir !== '.' ? { sub: parentDir } : {}) });
        }
        for (const d of downloads) sources.push({ hostPath: d.path, name: d.name, stat: await lstat(d.path), base: '' });
        const heredocDir = join(s.dir, 'heredocs');
        for (const h of heredocs) {
          await mkdir(heredocDir, { recursive: true });
          const f = join(heredocDir, basename(h.path));
          await writeFile(f, h.data, { mode: 0o644 });
          sources.push({ hostPath: f, name: basename(h.path), stat: await lstat(f), base: '' });
        }
        for (const src of sources) {
          const keep = src.keep;
          const base = src.base;
          if (src.archive) {
            const kind = (await archiveKind(src.hostPath))!;
            const target = await mkdirAllScoped(merged, dest, owner ?? { uid: 0, gid: 0 });
            await extractArchive(src.hostPath, kind, target, ctx.signal);
            continue;
          }
          const destFor = src.sub ? posix.join(dest, src.sub) + '/' : dest;
          const needsFilter = !src.wholeTree || excludeMatcher !== undefined;
          await copyIntoRootfs(merged, [src], destFor, destIsDirSyntax || multiple || src.sub !== undefined, {
            owner,
            commands: ctx.commands,
            previous: src.wholeTree && !from ? await previousTree(ctx, id, inputs.instruction, files, base, s) : undefined,
            chmod: chmodFn,
            exclude: !needsFilter ? undefined : (rel, isDir) => {
              const full = base && base !== '.' ? `${base}/${rel}` : rel;
              if (keep && !from && !keep.has(full)) return true;
              if (excludeMatcher && excludeMatcher.isExcluded(rel)) return true;
              return false;
            },
          });
        }
        // A wildcard that matches nothing copies nothing (BuildKit allows it); a missing plain source already failed.
      });
      return await commitUpperOpt(ctx, s, id);
    });
    pushLayer(st, r.layer);
    commitHistory(st.config, copyCreatedBy(ins.kind, ins.sources, heredocs.map((h) => h.path), ins.dest), true, st.time);
    if (!r.layer) st.config.history![st.config.history!.length - 1]!.empty_layer = true;
  } finally {
    for (const cl of cleanups.reverse()) await cl().catch(() => undefined);
  }
}

async function resolveChown(ctx: BuildCtx, st: StageState, chown: string): Promise<Owner> {
  const [u = '', g] = chown.split(':');
  const numeric = /^\d+$/;
  if (numeric.test(u) && (g === undefined || numeric.test(g))) return { uid: Number(u), gid: g === undefined ? Number(u) : Number(g) };
  const r = await resolveUser(await lowerDirs(ctx, st.layers), chown);
  return { uid: r.uid, gid: r.gid };
}

// ---------------------------------------------------------------------------------------------------------
// Commit

async function commitImage(ctx: BuildCtx, st: StageState): Promise<BuildResult> {
  const config = st.config;
  config.created = st.time;
  if (ctx.o.labels && Object.keys(ctx.o.labels).length > 0) {
    const c = cc(config);
    c.Labels = { ...(c.Labels ?? {}), ...ctx.o.labels };
  }
  config.rootfs = { type: 'layers', diff_ids: st.layers.map((l) => l.diffId) };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc = { digest: digestOf(configBytes), size: configBytes.length };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: configDesc.digest, size: configDesc.size },
    layers: await Promise.all(st.layers.map((l) => l.desc)),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const mdesc = { digest: digestOf(manifestBytes), size: manifestBytes.length };
  const tags0 = ctx.o.tags ?? [];
  // A rebuild that changed nothing names the image its tags already name: those names pin its blobs (gc keeps
  // them), so there is nothing to lease, write or re-tag. Otherwise: lease, write config and manifest, tag.
  if (!(tags0.length > 0 && await ctx.o.store.namesPointAt(tags0, mdesc.digest))) {
    await ctx.lease.add({ blobs: [configDesc.digest, mdesc.digest] });
    await ctx.o.store.putBytes(configBytes, { mediaType: MediaTypes.ociConfig, digest: configDesc.digest, size: configDesc.size });
    await ctx.o.store.putBytes(manifestBytes, { mediaType: MediaTypes.ociManifest, digest: mdesc.digest, size: mdesc.size });
  }
  const desc: Descriptor = {
    mediaType: MediaTypes.ociManifest, digest: mdesc.digest, size: mdesc.size,
    platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) },
  };
  const tags = ctx.o.tags ?? [];
  if (tags.length > 0 || ctx.o.recordUntagged !== false) await ctx.o.store.tagMany(tags, desc);
  void isIndexType;
  // mode=min: the target stage and the stages it is FROM (not COPY --from sources), base first.
  const chain: number[] = [];
  for (let s: ResolvedStage | undefined = ctx.graph.order.find((x) => x.index === ctx.graph.target); s; ) {
    chain.unshift(s.index);
    const b = s.base;
    s = b.kind === 'stage' ? ctx.graph.order.find((x) => x.index === b.index) : undefined;
  }
  return {
    manifest: desc, imageDigest: mdesc.digest, configDigest: configDesc.digest, config, tags, steps: ctx.steps,
    finalRecords: chain.flatMap((i) => ctx.records.get(i) ?? []),
    allRecords: [...ctx.records.values()].flat(),
    cacheMounts: [...ctx.cacheMountsUsed].map(([id, dir]) => ({ id, dir })),
  };
}
