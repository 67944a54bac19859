/**
 * The state a build carries: the build context (one per build, shared by every stage), the state of one stage
 * (its config, layers and key chain), and the per-step call every step function takes. Nothing here does I/O.
 */
import { layerDescriptor, type Descriptor, type Digest, type EventSink, type Layer, type Lease, type Logger, type Platform, type ImageConfig, type StoredImage, type StoreLayout } from '../../layer-store/index.js';
import type { ShellRunner } from '../../runtime-exec/index.js';
import type { CacheRecord, StatCache } from '../../cache/index.js';
import type { DockerfileAst, InstructionLocation, ResolvedStage, ScopeSnapshot, StageGraph, StageScope } from '../frontend/index.js';
import type { DockerignoreInfo } from '../context/index.js';
import type { StepReport, BuildOptions } from './options.js';
import type { SshAgents } from './ssh-agent.js';
import type { LayerTree } from './layer-tree.js';

/**
 * A layer this build just made that is still being identified and compressed (workspace.ts commitUpper, lazy layer
 * identity): its tree is there, which is all the next steps need (they hold it while they use it); the diffID
 * (`identity`) arrives once its tar is read and hashed, the Layer (digest, size, media type) once its blob is
 * written, and only what needs them waits: the image config and manifest, the step's cache record, the key of a
 * step that names the layers (`COPY --from`, `RUN --mount=from=`). Rejections (the step's error, with its location)
 * surface where `identity` or `packed` is awaited.
 */
export interface PendingLayer {
  readonly identity: Promise<Digest>;
  /** The blob is in the store (all a cache record names; a hit unpacks a missing snapshot from it). */
  readonly stored: Promise<Layer>;
  /** The blob is in the store and the tree moved into place as the snapshot (the image waits for this). */
  readonly packed: Promise<Layer>;
  readonly tree: LayerTree;
}

/**
 * A layer whose blob is known: a core Layer (a cache hit's, a finished pending one), or a base image's layer,
 * which keeps the descriptor its manifest lists (annotations and all), so the built manifest repeats it as is.
 */
export type KnownLayer = Layer & { readonly descriptor?: Descriptor };

/** One layer of a stage's filesystem: known, or still being compressed. */
export type StageLayer = KnownLayer | PendingLayer;

/** Returns the manifest descriptor of a known layer: the base manifest's own, else digest, size and media type. */
export function descriptorOf(l: KnownLayer): Descriptor {
  return l.descriptor ?? layerDescriptor(l);
}

/** Returns an image's layers, base first, each with its manifest descriptor (the image's manifest and config agree: checked by the caller). */
export function baseLayers(img: StoredImage): KnownLayer[] {
  return img.manifest.layers.map((d, i) => ({ digest: d.digest, diffId: img.config.rootfs.diff_ids[i]!, size: d.size, mediaType: d.mediaType, descriptor: d }));
}

/** Returns the layer once its blob is known (a pending layer's compression settled). */
export function settledLayer(l: StageLayer): Promise<KnownLayer> {
  return 'packed' in l ? l.packed : Promise.resolve(l);
}

/**
 * Returns the layer once its blob is stored, which is what a cache record needs: the step's record (and its step
 * lock, which another build running the same step waits on) does not wait for the tree to be moved into place,
 * which happens only once the next step has unmounted it.
 */
export function storedLayer(l: StageLayer): Promise<KnownLayer> {
  return 'packed' in l ? l.stored : Promise.resolve(l);
}

/** Returns the layer's diffID (a pending layer's once it is identified). */
export function diffIdOf(l: StageLayer): Promise<Digest> {
  return 'packed' in l ? l.identity : Promise.resolve(l.diffId);
}

/** Returns the diffIDs of `layers`, base first (waiting for pending ones to be identified). */
export function diffIdsOf(layers: readonly StageLayer[]): Promise<Digest[]> {
  return Promise.all(layers.map(diffIdOf));
}

/** Returns the layer when its blob is known now, else undefined. */
export function knownLayer(l: StageLayer): KnownLayer | undefined {
  return 'packed' in l ? undefined : l;
}

/** The result of a stage so far: config, layers base first, and the cache key chain. */
export interface StageState {
  /** The stage's own config (cloned from its base): metadata instructions change it in place (plan/metadata.ts). */
  config: ImageConfig;
  /** Base first. */
  layers: StageLayer[];
  /** Key of the last step (or the base's identity), the parent of the next step's key. */
  key: string;
  /** Whether `key` is a base's identity or a step's key (words the miss). */
  parentKind: 'base' | 'step';
  /** The base as written, for miss messages. */
  parentName: string;
  platform: Platform;
  /**
   * The time recorded for the next history entry: when the last layer-producing step's result was first made
   * (a cache hit keeps its original time), else the base's created time. A fully cached rebuild therefore
   * reproduces the same config and image digest. With SOURCE_DATE_EPOCH it is always the epoch.
   */
  time: string;
  /** The stage's ARG/ENV scope at its end, set when the stage is done: a stage FROM it starts there. */
  scope?: ScopeSnapshot;
}

/** Everything one build shares across its stages and steps. Created by build(), read by every step. */
export interface BuildCtx {
  /** The caller's options (store, runtime, cache, secrets, …), as given. */
  readonly o: BuildOptions;
  /** Where everything under the store's root (`--root`) is: scratch dirs, cache locks, cache mounts (layer-store's StoreLayout). */
  readonly layout: StoreLayout;
  /** This build's scratch dir below `<root>/tmp`; removed when the build ends. */
  readonly tmp: string;
  readonly events: EventSink;
  readonly log: Logger;
  /** Aborted by the caller's signal or by the first failing stage. */
  readonly signal: AbortSignal;
  /**
   * Aborted by the caller's signal only: what finished steps still do behind the build (their layers' packs, and
   * so their cache records) goes on when a later step fails, as BuildKit keeps a finished step's result; the
   * failing build returns once that work has settled.
   */
  readonly cancel: AbortSignal;
  /** The target platform (a stage's FROM --platform may differ: StageState.platform). */
  readonly platform: Platform;
  /** The build's time (SOURCE_DATE_EPOCH when given), ISO 8601. */
  readonly created: string;
  readonly graph: StageGraph;
  /** The parsed Dockerfile: its escape directive and file label. */
  readonly ast: DockerfileAst;
  /** The context's .dockerignore. */
  readonly ignore: DockerignoreInfo;
  /** The build context directory, absolute. */
  readonly contextDir: string;
  /** Directory named contexts' .dockerignore, read once per build, by directory (named-dirs.ts). */
  readonly namedDirs: Map<string, Promise<SourceDir>>;
  /** Each scheduled stage's result, by stage index. */
  readonly results: Map<number, Promise<StageState>>;
  /** Step reports in the order steps were decided (hit or miss). */
  readonly steps: StepReport[];
  /** Context file stats for hashing sources; only when a cache is used. */
  readonly statCache: StatCache | undefined;
  /** In-process serialisation of `sharing=locked` cache mounts (by directory) and the `sharing=private` instances held (`private:<id>`). */
  readonly cacheMountLocks: Map<string, Promise<void>>;
  /** Records used or created, per stage index. */
  readonly records: Map<number, CacheRecord[]>;
  /** Cache mounts RUN steps used: id → directory. */
  readonly cacheMountsUsed: Map<string, string>;
  /** Holds every blob, snapshot, cache key and cache mount this build uses until its image is tagged. */
  readonly lease: Lease;
  /** Work that goes on behind the steps (compressing a layer, then writing its cache record); awaited before commit. */
  readonly background: Promise<unknown>[];
  /** The previous build's record of a step that now runs, by step id: its layer's segments may be reused. */
  readonly previous: Map<string, CacheRecord>;
  /** Forks the helper commands of the steps (mount, umount, getfattr, cp): one small shell, not this process. */
  readonly commands: ShellRunner;
  /** The `--ssh` agents (RUN --mount=type=ssh), when any were given. */
  readonly ssh: SshAgents | undefined;
  /** The context paths (not directories) each COPY/ADD from the build context selected, for SecretInLayer (checks.ts). */
  readonly contextFilesSelected: string[][];
}

/** A directory a build reads files from (its context, or a directory named context), with its .dockerignore. */
export interface SourceDir {
  readonly dir: string;
  readonly ignore: DockerignoreInfo;
}

/** What every step function gets besides its instruction: `(call, ins)`. */
export interface StepCall {
  readonly ctx: BuildCtx;
  /** The stage the step belongs to. */
  readonly stage: ResolvedStage;
  /** The stage's state; the step updates it (layers, key, time, config, history). */
  readonly state: StageState;
  /** The stage's ARG/ENV scope as of this step. */
  readonly scope: StageScope;
  /** The step's id (`s<stage>-<n>`): events, cache-record lookup. */
  readonly id: string;
  /** The step's display name (`[stage 2/5] RUN …`). */
  readonly name: string;
  /** The step bypasses the cache (--no-cache, or its stage is in --no-cache-filter). */
  readonly noCache: boolean;
}

/** Runs `p` behind the steps: awaited before the image is committed, never an unhandled rejection. */
export function inBackground(ctx: BuildCtx, p: Promise<unknown>): void {
  p.catch(() => undefined);
  ctx.background.push(p);
}

/** Waits for the background work; throws the first failure (the build then fails, nothing is tagged). */
export async function settleBackground(ctx: BuildCtx): Promise<void> {
  for (let i = 0; i < ctx.background.length; i++) await ctx.background[i];
}

/** An instruction's location as errors carry it. */
export function loc(l: InstructionLocation): { file: string; line: number; endLine: number } {
  return { file: l.file, line: l.line, endLine: l.endLine };
}
