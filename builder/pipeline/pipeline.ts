/**
 * runBuildPipeline: everything `tsbuild build` does after its flags are parsed, as one library call. The steps
 * run in this order, each named after itself below:
 *   1. importCaches (remote-caches.ts): each `cacheFrom` becomes a RemoteCache the build consults on a local miss (its cache mounts
 *      are restored under `<store root>/cache-mounts`); one that cannot be read is a warning, not a failure.
 *   2. buildTarget: one platform (`build`) or several (`buildPlatforms`, committed as an index); a base image
 *      missing from the store is pulled with `registry`.
 *   3. embedInline (`cacheTo` type=inline): the final stage's records go into the image's config, and the tags
 *      move to that image. Not for multi-platform builds yet (a warning).
 *   4. nameImages and writeOutputs: the result in each image format the outputs ask for (image-targets.ts:
 *      media types, annotations), with the attestations it carries (attest-targets.ts: provenance, SBOM, in
 *      BuildKit's attestation storage), named in the store; archives or directories besides.
 *   5. exportCaches (remote-caches.ts; `cacheTo` type=registry|local): a failure is a warning, except an abort.
 *   6. pushTargets (`push`, `type=registry`, `type=image,push=true`): every name, one after another, after
 *      everything above succeeded.
 * Warnings and progress go to `events` (warnings are also listed in the result). A failure in steps 2-4 or 6 is
 * thrown; what the build committed stays in the store (its tags moved), and nothing later runs. One lease covers
 * the whole pipeline, so what the build made stays safe from a concurrent prune until it is named or written.
 */
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  Lease, TsbuildError, formatPlatform, hostPlatform, normalizeTagName, platformMatches,
  type Descriptor, type Digest, type EventSink, type Platform,
} from '../../layer-store/index.js';
import { parseReference, type RegistryClient } from '../../registry-client/index.js';
import { embedInlineCache, type RemoteCache } from '../../cache/index.js';
import { exportCaches, importCaches, targetOf, type ExportedCache, type ImportedCache } from './remote-caches.js';
import { build, type BuildOptions, type BuildResult, type StepReport } from '../execute/build.js';
import { buildPlatforms } from '../execute/multi.js';
import { writeOutput, type OutputSpec } from '../execute/output.js';
import type { Annotation } from '../execute/annotations.js';
import { formatImage, formatKey, type ImageFormat } from '../execute/image-format.js';
import type { CacheSpec } from './cache-spec.js';
import { allNames, checkTargets, formatOf, imageTargets, isPlainFormat, namesOf, type ImageTarget } from './image-targets.js';
import { contextFromStream } from './stdin-context.js';
import type { CheckWarning } from '../checks/index.js';
import { pull, push } from './transfer.js';
import { resolveNamedContexts, type BuildContextSource } from './named-contexts.js';
import { withRemoteInputs } from './remote-context.js';
import type { SigningKey } from '../sign/keys.js';
import { attestKey, attestPlan, checkAttestTargets, type AttestPlan } from './attest-targets.js';
import type { Attestations } from '../attest/spec.js';
// Attestation code (provenance, SBOM scanners) loads only for a build that makes attestations (cli/README.md, Start-up).
import type { AttestationRecorder } from '../attest/record.js';

export interface BuildPipelineOptions extends Omit<BuildOptions, 'platform' | 'remoteCaches'> {
  /**
   * Target platforms: none (the default) or one builds an image; several build one image per platform and
   * commit an index naming them.
   */
  readonly platforms?: readonly Platform[] | undefined;
  /**
   * Where the result also goes (`--output`). A `type: 'image'` output names the image (with its `names`, or
   * `tags` when there are any, as buildx) and pushes it with `push`. Default: the store only.
   */
  readonly outputs?: readonly OutputSpec[] | undefined;
  /**
   * The context as a stream (docker's `-`: stdin): a tar (plain, gzip, bzip2, xz, zstd), unpacked under the
   * store for the build and removed after it, or a Dockerfile built with an empty context (stdin-context.ts).
   * When set, `context` is ignored and a relative `dockerfile` is a path inside the tar.
   */
  readonly contextStream?: Readable | undefined;
  /** `--annotation`: added to every image the outputs write (image-format.ts says where each type goes). */
  readonly annotations?: readonly Annotation[] | undefined;
  /** Caches to import before the build (`--cache-from`); skipped with `noCache`. */
  readonly cacheFrom?: readonly CacheSpec[] | undefined;
  /** Caches to export after the build (`--cache-to`), inline first. */
  readonly cacheTo?: readonly CacheSpec[] | undefined;
  /** Push every tag to its registry after the build (`--push`, an output `type=registry`); needs a tag and `registry`. */
  readonly push?: boolean | undefined;
  /**
   * The registry client for base images missing from the store (unless `pullImage` is given), registry caches
   * and `push`. Without it, a missing base image fails the build and registry caches or `push` are refused.
   */
  readonly registry?: RegistryClient | undefined;
  /** Blobs downloaded at once when a base image is pulled (default: copyImage's, 4). */
  readonly pullConcurrency?: number | undefined;
  /** Blobs uploaded at once by `push` (default: copyImage's, 4). */
  readonly pushConcurrency?: number | undefined;
  /** `--build-context` NAME → source (parseBuildContextSource), resolved before the build (named-contexts.ts). */
  readonly buildContexts?: Readonly<Record<string, BuildContextSource>> | undefined;
  /** Keep the `.git` directory of a git context (BuildKit's BUILDKIT_CONTEXT_KEEP_GIT_DIR; default false). */
  readonly keepGitDir?: boolean | undefined;
  /** `--sign-by`: every pushed name is pushed by digest, signed (cosign's `.sig` tag), then tagged (builder/sign). */
  readonly signBy?: SigningKey | undefined;
  /**
   * `--provenance`, `--sbom`, `--attest` (builder/attest parseAttestFlags). Default: buildx's, a `mode=min`
   * provenance on pushed images only (attest-targets.ts).
   */
  readonly attestations?: Attestations | undefined;
}

export type { ExportedCache, ImportedCache } from './remote-caches.js';

/** A tag `push` pushed: the reference and the manifest digest the registry holds. */
export interface PushedTag {
  readonly tag: string;
  readonly ref: string;
  readonly digest: Digest;
}

export interface BuildPipelineResult {
  /** The image's manifest, or the index of a multi-platform build; with an inline cache, the image carrying it. */
  readonly manifest: Descriptor;
  /** Digest of `manifest` (what `push` and `@sha256:` refer to). */
  readonly imageDigest: Digest;
  /** Digest of the config (Docker's image ID); for a multi-platform build, the index digest (as buildx's iidfile). */
  readonly configDigest: Digest;
  /** The names the result carries in the store (`tags`, else the image outputs' names). */
  readonly tags: readonly string[];
  /** Every step, CACHED or with the reason it ran; for several platforms, each platform's in turn. */
  readonly steps: readonly StepReport[];
  /** One result per platform of a multi-platform build, in the order asked; empty for one platform. */
  readonly platforms: readonly (BuildResult & { readonly platform: Platform })[];
  readonly importedCaches: readonly ImportedCache[];
  /** Records embedded in the image by `cacheTo` type=inline (0 when none were). */
  readonly inlineCacheRecords: number;
  readonly exportedCaches: readonly ExportedCache[];
  readonly pushed: readonly PushedTag[];
  /** The warnings also sent to `events` (unusable caches, inline cache on several platforms). */
  readonly warnings: readonly string[];
  /** The build-check warnings (builder/checks; for several platforms, the first platform's, as BuildKit). */
  readonly checks: readonly CheckWarning[];
}

/** What the build step produced, in the shape the steps after it need (one image or an index). */
interface Built {
  manifest: Descriptor;
  imageDigest: Digest;
  configDigest: Digest;
  readonly tags: readonly string[];
  readonly steps: readonly StepReport[];
  readonly finalRecords: BuildResult['finalRecords'];
  readonly allRecords: BuildResult['allRecords'];
  readonly cacheMounts: BuildResult['cacheMounts'];
  readonly platforms: readonly (BuildResult & { readonly platform: Platform })[];
  readonly checks?: readonly CheckWarning[] | undefined;
}

/** Reports progress and collects warnings for the result. */
class Reporter {
  readonly warnings: string[] = [];
  constructor(readonly sink: EventSink | undefined) {}
  info(message: string): void {
    this.sink?.({ type: 'info', message });
  }
  warn(message: string): void {
    this.warnings.push(message);
    this.sink?.({ type: 'warning', message });
  }
}

/**
 * Returns the result of the whole `tsbuild build` pipeline: import caches → build → inline cache → outputs →
 * export caches → push (see the header for each step's failure rule). Options that need a registry without
 * `registry`, and `push` without a tag, are refused before any work.
 */
export async function runBuildPipeline(o: BuildPipelineOptions): Promise<BuildPipelineResult> {
  const targets = imageTargets(o);
  const tags = allNames(targets);
  checkPipelineOptions(o, targets);
  if (o.contextStream) {
    const sc = await contextFromStream(o.store, o.contextStream, { dockerfile: o.dockerfile, dockerfileContent: o.dockerfileContent, signal: o.signal });
    try {
      const { contextStream: _s, ...rest } = o;
      return await runBuildPipeline({
        ...rest, context: sc.dir,
        ...(sc.dockerfileContent ? { dockerfileContent: sc.dockerfileContent } : o.dockerfile !== undefined ? { dockerfile: join(sc.dir, o.dockerfile) } : {}),
      });
    } finally {
      await sc.cleanup();
    }
  }
  const report = new Reporter(o.events);
  const multi = (o.platforms?.length ?? 0) > 1;
  const plans = targets.map((t) => attestPlan(o.attestations, { kind: 'image', push: t.push, oci: t.format.ociMediaTypes, multi }));
  const outPlans = (o.outputs ?? []).map((x) => (x.type === 'oci' ? attestPlan(o.attestations, { kind: 'oci', push: false, oci: formatOf(o, x).ociMediaTypes, multi }) : undefined));
  const attest = [...plans, ...outPlans].some(Boolean) ? await import('../attest/record.js') : undefined;
  const recorder = attest ? new attest.AttestationRecorder(o.attestations ?? {}, {
    context: o.context, buildArgs: o.buildArgs ?? {}, labels: o.labels ?? {}, target: o.target, noCache: o.noCache,
    secrets: (o.secrets ?? []).map((x) => x.id), ssh: (o.ssh ?? []).map((x) => x.id),
  }) : undefined;
  const lease = o.lease ?? await Lease.acquire(o.store.root, o.signal ? { signal: o.signal } : {});
  try {
    const imported = o.noCache ? [] : await importCaches(o, report);
    // The build names its result itself unless some name needs another format or attestations: then nameImages does, later.
    const direct = targets.every((t, i) => isPlainFormat(t.format) && !plans[i]);
    const cleanups: (() => Promise<void>)[] = [];
    let r: Built;
    try {
      // A git or URL context is fetched, and --ssh agents started, once for every platform (remote-context.ts).
      r = await withRemoteInputs({ ...o, lease, ...(attest && recorder ? { observe: attest.chainObservers(o.observe, recorder.observe) } : {}) }, async (lo) => {
        // What named contexts copy into the store is held by the pipeline's lease until the result is named.
        const namedContexts = o.buildContexts && Object.keys(o.buildContexts).length > 0 ? await resolveNamedContexts(o.buildContexts, {
          store: o.store, lease, platforms: o.platforms?.length ? o.platforms : [hostPlatform()], cleanups,
          sshAuthSock: lo.sshAgents?.socket('default'), ...(o.signal ? { signal: o.signal } : {}),
        }) : undefined;
        return buildTarget({ ...lo, lease, ...(namedContexts ? { namedContexts } : {}), ...(direct ? {} : { recordUntagged: false }) }, direct ? tags : [], imported.map((i) => i.cache));
      });
    } finally {
      for (const c of cleanups) await c().catch(() => undefined);
    }
    recorder?.finish();
    let inlineCacheRecords = 0;
    if (o.cacheTo?.some((c) => c.type === 'inline')) {
      const emb = await embedInline(o, r, report);
      if (emb) {
        r = emb.built;
        inlineCacheRecords = emb.records;
      }
    }
    const named = await nameImages(o, r, targets, lease, direct, plans, recorder);
    for (const [i, out] of (o.outputs ?? []).entries()) {
      // Archives carry full names (docker.io/library/app:1), as the store and BuildKit's exporters name images.
      const names = out.type === 'oci' || out.type === 'docker' ? namesOf(o, out.names).map((n) => normalizeTagName(n)) : [];
      const image = out.type === 'oci' || out.type === 'docker' ? await named.variant(formatOf(o, out), outPlans[i], names) : r.manifest;
      await writeOutput(o.store, image, names, out, o.signal ? { signal: o.signal } : {});
    }
    const exportedCaches = await exportCaches(o, r, report);
    const pushed = await pushTargets(o, named.targets, report);
    const top = named.targets[0]!.descriptor;
    return {
      manifest: top, imageDigest: top.digest, configDigest: r.platforms.length ? top.digest : r.configDigest, tags, steps: r.steps,
      platforms: r.platforms, importedCaches: imported.map((i) => i.info), inlineCacheRecords, exportedCaches, pushed,
      warnings: report.warnings, checks: r.checks ?? r.platforms[0]?.checks ?? [],
    };
  } finally {
    if (!o.lease) await lease.release();
  }
}

/**
 * Returns each target with the image it names (the build's result in the target's format) after naming it in
 * the store, and `variant`, which returns the result in any format (each format rewritten once).
 */
async function nameImages(o: BuildPipelineOptions, r: Built, targets: readonly ImageTarget[], lease: Lease, direct: boolean, plans: readonly (AttestPlan | undefined)[], recorder: AttestationRecorder | undefined): Promise<{
  targets: (ImageTarget & { descriptor: Descriptor })[]; variant: (f: ImageFormat, plan?: AttestPlan, names?: readonly string[]) => Promise<Descriptor>;
}> {
  const memo = new Map<string, Promise<Descriptor>>();
  const formatted = (f: ImageFormat): Promise<Descriptor> => {
    const k = formatKey(f);
    let d = memo.get(k);
    if (!d) {
      d = formatImage(o.store, r.manifest, f, { lease, platform: o.platforms?.[0] ?? hostPlatform(), ...(o.signal ? { signal: o.signal } : {}) });
      memo.set(k, d);
    }
    return d;
  };
  // The image in format f with the attestations of `plan` (their subjects name `names`), each made once.
  const variant = async (f: ImageFormat, plan?: AttestPlan, names: readonly string[] = []): Promise<Descriptor> => {
    if (!plan || !recorder) return formatted(f);
    const k = `${formatKey(f)}|${attestKey(plan)}|${names.join(',')}`;
    let d = memo.get(k);
    if (!d) {
      d = formatted(f).then(async (desc) => (await import('../attest/storage.js')).attachAttestations(o.store, desc, (img) => recorder.statements(o.store, img, {
        names, provenance: plan.provenance, sbom: plan.sbom,
        steps: r.platforms.length ? r.platforms.find((p) => platformMatches(p.platform, img.platform))?.steps ?? [] : r.steps,
      }), { lease, ...(o.signal ? { signal: o.signal } : {}) }));
      memo.set(k, d);
    }
    return d;
  };
  const out: (ImageTarget & { descriptor: Descriptor })[] = [];
  for (const [i, t] of targets.entries()) {
    const descriptor = await variant(t.format, plans[i], t.names);
    // `direct`: every target is plain, and the build named the result itself.
    if (!direct) await o.store.tagMany(t.names, descriptor, o.signal ? { signal: o.signal } : {});
    out.push({ ...t, descriptor });
  }
  return { targets: out, variant };
}

/**
 * Throws for options that could only fail after the build: a push without a tag or a registry (USAGE), a tag to
 * push or a cache reference that is not a valid reference (INVALID_REFERENCE), a registry cache without a
 * registry, a name given two formats, an image format BuildKit refuses for these platforms (image-targets.ts).
 */
function checkPipelineOptions(o: BuildPipelineOptions, targets: readonly ImageTarget[]): void {
  checkTargets(o, targets);
  if (o.signBy && !targets.some((t) => t.push)) throw new TsbuildError('USAGE', '--sign-by signs what is pushed, and nothing is pushed', { hint: 'add --push (or an output with push=true)' });
  checkAttestTargets(o.attestations, o.outputs ?? [], [...targets.map((t) => t.format), ...(o.outputs ?? []).flatMap((x) => (x.type === 'oci' ? [formatOf(o, x)] : []))]);
  for (const c of [...(o.cacheFrom ?? []), ...(o.cacheTo ?? [])]) if (c.type === 'registry') parseReference(c.ref);
  if (o.registry) return;
  const p = targets.find((t) => t.push);
  if (p) throw new TsbuildError('USAGE', `pushing ${p.names.join(', ')} needs a registry client`, { hint: 'pass registry: new RegistryClient()' });
  const c = [...(o.cacheFrom ?? []), ...(o.cacheTo ?? [])].find((s) => s.type === 'registry');
  if (c) throw new TsbuildError('USAGE', `cache type=registry,ref=${targetOf(c)} needs a registry client`, { hint: 'pass registry: new RegistryClient()' });
}

/** Returns the build's own options: the pipeline's, less the steps around the build. */
function buildOptionsOf(o: BuildPipelineOptions): Omit<BuildOptions, 'platform' | 'remoteCaches'> {
  const { buildContexts: _bc, platforms: _p, outputs: _o, cacheFrom: _cf, cacheTo: _ct, push: _push, registry: _r, pullConcurrency: _pc, pushConcurrency: _uc, keepGitDir: _kg, annotations: _a, contextStream: _cs, signBy: _sb, attestations: _at, ...own } = o;
  return own;
}

/** Returns the built image (one platform) or index (several), tagged `tags` in the store. */
async function buildTarget(o: BuildPipelineOptions, tags: readonly string[], remoteCaches: readonly RemoteCache[]): Promise<Built> {
  const platforms = o.platforms ?? [];
  const reg = o.registry;
  const bo: BuildOptions = {
    ...buildOptionsOf(o),
    tags,
    platform: platforms[0],
    remoteCaches,
    pullImage: o.pullImage ?? (reg ? async (ref, platform, signal, lease) => {
      o.events?.({ type: 'info', message: `pulling ${ref} (${formatPlatform(platform)})` });
      await pull({
        store: o.store, registry: reg, ref, platform, lease,
        ...(o.pullConcurrency ? { concurrency: o.pullConcurrency } : {}),
        ...(o.events ? { events: o.events } : {}),
        ...(signal ? { signal } : {}),
      });
    } : undefined),
  };
  if (platforms.length <= 1) {
    const s = await build(bo);
    return { ...s, platforms: [] };
  }
  const m = await buildPlatforms({ ...bo, platforms });
  return {
    manifest: m.index, imageDigest: m.indexDigest, configDigest: m.indexDigest, tags: m.tags,
    steps: m.platforms.flatMap((p) => p.steps), finalRecords: m.platforms.flatMap((p) => p.finalRecords),
    allRecords: m.platforms.flatMap((p) => p.allRecords), cacheMounts: m.platforms.flatMap((p) => p.cacheMounts),
    platforms: m.platforms,
  };
}

/** Returns the image with the inline cache in its config, named by the build's tags; undefined for an index. */
async function embedInline(o: BuildPipelineOptions, r: Built, report: Reporter): Promise<{ built: Built; records: number } | undefined> {
  if (r.platforms.length > 0) {
    report.warn('--cache-to type=inline is not supported for multi-platform builds yet; the images carry no cache (use type=registry)');
    return undefined;
  }
  // The image carries the records of its own steps in its config; it replaces the one the build named.
  const ab = { signal: o.signal };
  const emb = await embedInlineCache(o.store, r.manifest, r.finalRecords, ab);
  if (r.tags.length > 0) await o.store.tagMany(r.tags, emb.manifest, ab);
  report.info(`embedded ${emb.records} cache records in the image (inline cache)`);
  return { built: { ...r, manifest: emb.manifest, imageDigest: emb.manifest.digest, configDigest: emb.configDigest }, records: emb.records };
}

/** Returns every name of the targets that push, pushed to its registry, in order; the first failure is thrown. */
async function pushTargets(o: BuildPipelineOptions, targets: readonly (ImageTarget & { descriptor: Descriptor })[], report: Reporter): Promise<PushedTag[]> {
  const out: PushedTag[] = [];
  const done = new Set<string>();
  for (const t of targets) {
    if (!t.push) continue;
    for (const name of t.names) {
      if (done.has(name)) continue;
      done.add(name);
      const p = await push({
        store: o.store, registry: o.registry!, name, signal: o.signal, signBy: o.signBy,
        ...(o.pushConcurrency ? { concurrency: o.pushConcurrency } : {}),
        ...(o.events ? { events: o.events } : {}),
      });
      out.push({ tag: name, ref: p.ref, digest: p.digest });
      report.info(`pushed ${name}: ${p.digest}`);
    }
  }
  return out;
}

