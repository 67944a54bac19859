/** The build's options and results: what `build()` takes and returns (public through builder/index.ts). */
import type { NamedContextUse } from '../frontend/index.js';
import type { Descriptor, Digest, EventSink, ImageConfig, Lease, LayerStore, Logger, MissReason, Platform } from '../../layer-store/index.js';
import type { ExtraHost, Limits, NetworkMode, Runtime, Ulimit } from '../../runtime-exec/index.js';
import type { CacheRecord, CacheStore, RemoteCache } from '../../cache/index.js';
import type { Entitlement } from './entitlements.js';
import type { CheckWarning } from '../checks/index.js';
import type { SshAgents, SshSource } from './ssh-agent.js';

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
  /** How messages name the Dockerfile (default: `dockerfile` as given, else its base name); a remote context's is its path in the context. */
  readonly dockerfileLabel?: string | undefined;
  /**
   * The Dockerfile itself (`-f -`: read from stdin), instead of reading `dockerfile`; errors name it
   * `Dockerfile`, and the context's own `.dockerignore` applies.
   */
  readonly dockerfileContent?: string | Uint8Array | undefined;
  /** Names to tag the result with (normalised by the store). */
  readonly tags?: readonly string[] | undefined;
  /** `--build-arg`; undefined values mean "declared without a value". */
  readonly buildArgs?: Readonly<Record<string, string | undefined>> | undefined;
  readonly target?: string | undefined;
  /**
   * `--build-context` names (builder/frontend contextKey form) and what each stands for once resolved
   * (builder/pipeline resolveNamedContexts: images in the store, stages, directories).
   */
  readonly namedContexts?: ReadonlyMap<string, NamedContextUse> | undefined;
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
  /** `--ssh`: SSH agents for `RUN --mount=type=ssh` (ssh-agent.ts); started for the build and stopped after it. */
  readonly ssh?: readonly SshSource[] | undefined;
  /** Agents already started (by runBuildPipeline, which also fetches git over SSH with them): used instead of `ssh`; the caller closes them. */
  readonly sshAgents?: SshAgents | undefined;
  readonly limits?: Limits | undefined;
  /** `--add-host`: /etc/hosts entries of every RUN; the IP `host-gateway` is the host (127.0.0.1, builder/README). */
  readonly extraHosts?: readonly ExtraHost[] | undefined;
  /** `--ulimit`: resource limits of every RUN (−1: unlimited). */
  readonly ulimits?: readonly Ulimit[] | undefined;
  /** `--shm-size`: the size of RUN's /dev/shm in bytes (default 64 MiB). */
  readonly shmSize?: number | undefined;
  /** `--cgroup-parent`: the cgroup RUN containers are created under (`<parent>/tsbuild/<id>`). */
  readonly cgroupParent?: string | undefined;
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
  /** Run the build checks (builder/checks; default true): warnings go to `events` and `BuildResult.checks`. */
  readonly checks?: boolean | undefined;
  /** Told what the build read (for provenance, builder/attest): the Dockerfile, each base image, a remote context. */
  readonly observe?: BuildObserver | undefined;
}

/** What a build reports of its inputs as it reads them (each callback optional; none may throw). */
export interface BuildObserver {
  /** The Dockerfile as named in messages, and its bytes. */
  dockerfile?(label: string, bytes: Uint8Array): void;
  /**
   * A base image (`FROM`, `COPY --from`, `RUN --mount from=`, a named context): its platform, the manifest it
   * resolved to, and the target platform of the build that used it.
   */
  baseImage?(ref: string, platform: Platform, manifest: Digest, target: Platform): void;
  /** A remote context as given, and the commit a git context resolved to. */
  remoteContext?(uri: string, commit: string | undefined): void;
  /** After a successful build: each stage built besides the target, its layers' diffIDs (base first), and the target platform. */
  stage?(name: string, diffIds: readonly Digest[], target: Platform): void;
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
  /** The build-check warnings (builder/checks), in the order found; empty with `checks: false`. */
  readonly checks?: readonly CheckWarning[];
}

