/**
 * What runBuildPipeline records for the attestations while it builds (a BuildObserver), and the statements it
 * makes of it for each platform image: SLSA provenance (provenance.ts) and SPDX SBOMs (sbom/index.ts, run on the
 * image's layer snapshots, and with `scan-context` on the context directory).
 */
import { randomUUID } from 'node:crypto';
import {
  execFileAsync, hostPlatform, isIndexType, platformMatches, type Descriptor, type Digest, type LayerStore, type Platform,
} from '../../layer-store/index.js';
import type { BuildObserver, StepReport } from '../execute/options.js';
import { PREDICATE_SLSA_PROVENANCE_V1, PREDICATE_SPDX, statement, subjectsOf, type InTotoStatement } from './intoto.js';
import { provenancePredicate, type ProvenanceFacts, type ResolvedBase } from './provenance.js';
import type { Attestations, ProvenanceAttest } from './spec.js';
import { generateSbom } from './sbom/index.js';

const run = execFileAsync;

/** What the request said (the pipeline's options), besides what the observer sees. */
export interface RequestFacts {
  readonly context: string;
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly target?: string | undefined;
  readonly noCache?: boolean | undefined;
  readonly secrets: readonly string[];
  readonly ssh: readonly string[];
}

/** Returns buildx's vcs:source and vcs:revision of a local context in a git checkout (nothing when it is not one). */
async function localVcs(dir: string): Promise<{ source?: string; revision?: string } | undefined> {
  const git = async (args: string[]): Promise<string | undefined> => {
    try {
      return (await run('git', ['-C', dir, ...args], { timeout: 10_000, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } })).stdout.trim() || undefined;
    } catch {
      return undefined;
    }
  };
  const revision = await git(['rev-parse', 'HEAD']);
  if (!revision) return undefined;
  const url = await git(['config', '--get', 'remote.origin.url']);
  // Credentials in a remote URL are never written (BuildKit's RedactCredentials).
  const source = url?.replace(/^(\w+:\/\/)[^/@]*@/, '$1');
  return { revision, ...(source ? { source } : {}) };
}

/** Records the build's inputs (observe) and makes the statements of each image once the build is done. */
export class AttestationRecorder {
  readonly invocationId = randomUUID().replace(/-/g, '').slice(0, 25);
  readonly startedOn = new Date().toISOString();
  finishedOn = this.startedOn;
  #dockerfile: { path: string; bytes: Uint8Array } | undefined;
  #remote: { uri: string; commit?: string | undefined } | undefined;
  readonly #bases: (ResolvedBase & { target: Platform })[] = [];

  constructor(readonly attestations: Attestations, readonly request: RequestFacts) {}

  /** The observer to pass to the build. */
  readonly observe: BuildObserver = {
    dockerfile: (label, bytes) => { this.#dockerfile ??= { path: label, bytes: Buffer.from(bytes) }; },
    baseImage: (ref, platform, manifest, target) => { this.#bases.push({ ref, platform, digest: manifest, target }); },
    remoteContext: (uri, commit) => { this.#remote = { uri, ...(commit ? { commit } : {}) }; },
    stage: (name, diffIds, target) => { this.#stages.push({ name, diffIds, target }); },
  };
  readonly #stages: { name: string; diffIds: readonly Digest[]; target: Platform }[] = [];

  /** Marks the build finished (runDetails.metadata.finishedOn). */
  finish(): void {
    this.finishedOn = new Date().toISOString();
  }

  /**
   * Returns the base images of `platform` with the digest BuildKit records: the index a name resolves to in the
   * store when that index holds the manifest used, else the manifest itself.
   */
  async #basesOf(store: LayerStore, platform: Platform): Promise<ResolvedBase[]> {
    const out: ResolvedBase[] = [];
    for (const b of this.#bases) {
      if (!platformMatches(platform, b.target) && !platformMatches(b.target, platform)) continue;
      let digest: Digest = b.digest;
      try {
        const obj = await store.resolve(b.ref);
        if (obj.kind === 'index' && isIndexType(obj.descriptor.mediaType) && obj.index.manifests.some((m) => m.digest === b.digest)) digest = obj.descriptor.digest;
      } catch {
        // the name moved or went: the manifest digest is still what was used
      }
      out.push({ ref: b.ref, platform: b.platform, digest });
    }
    return out;
  }

  /** Returns the provenance facts of one platform image. */
  async facts(store: LayerStore, image: { platform: Platform; layers: readonly Descriptor[]; steps: readonly StepReport[] }): Promise<ProvenanceFacts> {
    const vcs = this.#remote ? undefined : await localVcs(this.request.context);
    return {
      invocationId: this.invocationId,
      startedOn: this.startedOn,
      finishedOn: this.finishedOn,
      dockerfile: this.#dockerfile ?? { path: 'Dockerfile', bytes: new Uint8Array() },
      ...(this.#remote ? { remoteContext: this.#remote } : {}),
      ...(vcs ? { vcs } : {}),
      buildArgs: this.request.buildArgs,
      labels: this.request.labels,
      target: this.request.target,
      noCache: this.request.noCache,
      secrets: this.request.secrets,
      ssh: this.request.ssh,
      bases: await this.#basesOf(store, image.platform),
      steps: image.steps.map((s) => ({ name: s.name, cached: s.cached })),
      layers: image.layers,
      builderPlatform: hostPlatform(),
    };
  }

  /**
   * Returns the statements about one platform image: provenance (`provenance`, when given) and, when SBOMs were
   * asked for, the image's SPDX document followed by the context's (`scan-context`).
   */
  async statements(store: LayerStore, image: Descriptor & { platform: Platform }, o: { names: readonly string[]; steps: readonly StepReport[]; provenance?: ProvenanceAttest | undefined; sbom: boolean }): Promise<InTotoStatement[]> {
    const obj = await store.load(image);
    if (obj.kind !== 'image') return [];
    const subject = subjectsOf(o.names, image.platform, image.digest);
    const out: InTotoStatement[] = [];
    if (o.provenance) {
      const f = await this.facts(store, { platform: image.platform, layers: obj.manifest.layers, steps: o.steps });
      out.push(statement(PREDICATE_SLSA_PROVENANCE_V1, subject, provenancePredicate(f, o.provenance)));
    }
    const sbom = this.attestations.sbom;
    if (o.sbom && sbom) {
      const dirs: string[] = [];
      for (const id of obj.config.rootfs.diff_ids) dirs.push(await store.snapshot(id));
      const name = o.names[0] ?? image.digest;
      out.push(statement(PREDICATE_SPDX, subject, await generateSbom({ layers: dirs, name, platform: image.platform, created: new Date(this.finishedOn) })));
      if (sbom.scanContext ?? boolArg(this.request.buildArgs.BUILDKIT_SBOM_SCAN_CONTEXT)) {
        out.push(statement(PREDICATE_SPDX, subject, await generateSbom({ layers: [this.request.context], name: `${name} (context)`, kind: 'directory', created: new Date(this.finishedOn) })));
      }
      if (sbom.scanStage ?? boolArg(this.request.buildArgs.BUILDKIT_SBOM_SCAN_STAGE)) {
        for (const st of this.#stages) {
          if (!platformMatches(image.platform, st.target) && !platformMatches(st.target, image.platform)) continue;
          const layers: string[] = [];
          for (const id of st.diffIds) layers.push(await store.snapshot(id));
          out.push(statement(PREDICATE_SPDX, subject, await generateSbom({ layers, name: `${name} (stage ${st.name})`, platform: image.platform, created: new Date(this.finishedOn) })));
        }
      }
    }
    return out;
  }
}

/** Go's ParseBool of a build arg (BUILDKIT_SBOM_SCAN_CONTEXT), false when unset or no boolean. */
function boolArg(v: string | undefined): boolean {
  return v !== undefined && /^(1|t|T|TRUE|true|True)$/.test(v);
}

/** Returns an observer telling both `a` (the caller's, if any) and `b`. */
export function chainObservers(a: BuildObserver | undefined, b: BuildObserver): BuildObserver {
  if (!a) return b;
  return {
    dockerfile: (l, bytes) => { a.dockerfile?.(l, bytes); b.dockerfile?.(l, bytes); },
    baseImage: (ref, p, m, t) => { a.baseImage?.(ref, p, m, t); b.baseImage?.(ref, p, m, t); },
    remoteContext: (u, c) => { a.remoteContext?.(u, c); b.remoteContext?.(u, c); },
    stage: (n, d, t) => { a.stage?.(n, d, t); b.stage?.(n, d, t); },
  };
}
