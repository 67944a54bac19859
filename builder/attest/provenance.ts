/**
 * The SLSA provenance v1 predicate of one platform image, laid out as BuildKit lays it out
 * (solver/llbsolver/provenance: predicate.go, types/types.go; docs/attestations/slsa-definitions.md):
 *   buildDefinition.buildType           BuildKit's build type (its definitions are the ones followed here)
 *   buildDefinition.externalParameters  configSource {uri, digest, path} and request {frontend, args, secrets,
 *                                       ssh, locals}; `mode=min` drops build-arg/label values, secrets and SSH
 *                                       ids (BuildKit's scrubMinRequest); `mode=max` keeps them, except build
 *                                       args whose names look secret (builder/checks' SecretsUsedInArgOrEnv
 *                                       rule): tsbuild never writes those (BuildKit would)
 *   buildDefinition.internalParameters  builderPlatform; `mode=max`: buildConfig.llbDefinition (the steps)
 *   buildDefinition.resolvedDependencies base images (`pkg:docker/NAME@TAG?platform=…` with the digest the
 *                                       store resolved), a git context's URL and commit, the Dockerfile's digest
 *   runDetails                          builder.id; metadata {invocationId, startedOn, finishedOn} and, in
 *                                       tsbuild's namespace where BuildKit writes `buildkit_*`:
 *                                       tsbuild_completeness, tsbuild_reproducible, tsbuild_metadata {vcs;
 *                                       `mode=max`: source.infos (the Dockerfile) and layers per step}
 * Secret values never reach it: secrets are named by id only (max), and secret-like build args are left out.
 * Pure.
 */
import { createHash } from 'node:crypto';
import { formatPlatform, type Descriptor, type Digest, type Platform } from '../../layer-store/index.js';
import { isSecretName } from '../checks/index.js';
import { digestSet, imagePurl } from './intoto.js';
import type { ProvenanceAttest } from './spec.js';

/** BuildKit's SLSA v1 build type (solver/llbsolver/provenance/types.BuildKitBuildType1). */
export const BUILDKIT_BUILD_TYPE = 'https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md';

/** A base image the build resolved: the reference as written, the platform, and the digest the store resolved. */
export interface ResolvedBase {
  readonly ref: string;
  readonly platform: Platform;
  readonly digest: Digest;
}

/** One step of the build, as `mode=max` lists it. */
export interface ProvenanceStep {
  readonly name: string;
  readonly cached: boolean;
}

/** What the build knew, collected by the pipeline (one platform's view). */
export interface ProvenanceFacts {
  readonly invocationId: string;
  /** RFC 3339. */
  readonly startedOn: string;
  readonly finishedOn: string;
  /** The Dockerfile as named in the request (`filename`), and its bytes. */
  readonly dockerfile: { readonly path: string; readonly bytes: Uint8Array };
  /** A remote context (git or URL) as given, and its commit for git; undefined for a local directory. */
  readonly remoteContext?: { readonly uri: string; readonly commit?: string | undefined } | undefined;
  /** A local context in a git checkout: its origin URL and HEAD commit (buildx's vcs:source / vcs:revision). */
  readonly vcs?: { readonly source?: string | undefined; readonly revision?: string | undefined } | undefined;
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly target?: string | undefined;
  readonly noCache?: boolean | undefined;
  readonly secrets: readonly string[];
  readonly ssh: readonly string[];
  readonly bases: readonly ResolvedBase[];
  readonly steps: readonly ProvenanceStep[];
  /** The image's layers, base first (`mode=max`: the last step's layers). */
  readonly layers: readonly Descriptor[];
  /** The machine that built (internalParameters.builderPlatform). */
  readonly builderPlatform: Platform;
}

type Json = Record<string, unknown>;

/** BuildKit's predefined proxy args (either letter case). */
const PROXY_ARGS = new Set(['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY']);

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Returns the request's args: `build-arg:K`, `label:K` (max only), `target`, `no-cache` (frontend option names). */
function requestArgs(f: ProvenanceFacts, mode: 'min' | 'max'): { args: Record<string, string>; scrubbed: boolean } {
  const args: Record<string, string> = {};
  let scrubbed = false;
  for (const [k, v] of Object.entries(f.buildArgs).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (v === undefined) continue;
    // Never written, whatever the mode: a value whose name says it is a secret, and the proxy args (they may
    // carry credentials; tsbuild keeps them out of history and cache keys too).
    if (isSecretName(k) || PROXY_ARGS.has(k.toUpperCase())) { scrubbed = true; continue; }
    if (mode === 'min') { scrubbed = true; continue; }
    args[`build-arg:${k}`] = v;
  }
  for (const [k, v] of Object.entries(f.labels).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (mode === 'min') { scrubbed = true; continue; }
    args[`label:${k}`] = v;
  }
  if (f.target) args.target = f.target;
  if (f.noCache) args['no-cache'] = '';
  return { args, scrubbed };
}

/** Returns the SLSA v1 predicate of one platform image (see the header). */
export function provenancePredicate(f: ProvenanceFacts, a: ProvenanceAttest): Json {
  const { args, scrubbed } = requestArgs(f, a.mode);
  const request: Json = { frontend: 'dockerfile.v0' };
  if (Object.keys(args).length) request.args = args;
  if (a.mode === 'max' && f.secrets.length) request.secrets = [...new Set(f.secrets)].map((id) => ({ id }));
  if (a.mode === 'max' && f.ssh.length) request.ssh = [...new Set(f.ssh)].map((id) => ({ id }));
  if (!f.remoteContext) request.locals = [{ name: 'context' }, { name: 'dockerfile' }];

  const configSource: Json = {};
  if (f.remoteContext) {
    configSource.uri = f.remoteContext.uri;
    if (f.remoteContext.commit) configSource.digest = commitDigest(f.remoteContext.commit);
  }
  configSource.path = f.dockerfile.path;

  const deps: Json[] = [];
  const seen = new Set<string>();
  for (const b of f.bases) {
    const uri = imagePurl(b.ref, b.platform);
    if (seen.has(uri)) continue;
    seen.add(uri);
    deps.push({ uri, digest: digestSet(b.digest) });
  }
  if (f.remoteContext?.commit) deps.push({ uri: f.remoteContext.uri, digest: commitDigest(f.remoteContext.commit) });
  deps.push({ name: f.dockerfile.path, digest: { sha256: sha256(f.dockerfile.bytes) } });

  const internal: Json = { builderPlatform: formatPlatform(f.builderPlatform) };
  const tsbuildMetadata: Json = {};
  if (f.vcs && (f.vcs.source || f.vcs.revision)) {
    tsbuildMetadata.vcs = { ...(f.vcs.revision ? { revision: f.vcs.revision } : {}), ...(f.vcs.source ? { source: f.vcs.source } : {}) };
  }
  if (a.mode === 'max') {
    internal.buildConfig = { llbDefinition: f.steps.map((s, i) => ({ id: `step${i}`, op: { tsbuild: { instruction: s.name, cached: s.cached } }, ...(i > 0 ? { inputs: [`step${i - 1}:0`] } : {}) })) };
    tsbuildMetadata.source = { infos: [{ filename: f.dockerfile.path, language: 'Dockerfile', data: Buffer.from(f.dockerfile.bytes).toString('base64') }] };
    if (f.steps.length && f.layers.length) {
      tsbuildMetadata.layers = { [`step${f.steps.length - 1}:0`]: [f.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }))] };
    }
  }
  return {
    buildDefinition: {
      buildType: BUILDKIT_BUILD_TYPE,
      externalParameters: { configSource, request },
      internalParameters: internal,
      resolvedDependencies: deps,
    },
    runDetails: {
      builder: { id: a.builderId ?? '' },
      metadata: {
        invocationId: f.invocationId,
        startedOn: f.startedOn,
        finishedOn: f.finishedOn,
        tsbuild_completeness: { request: !scrubbed, resolvedDependencies: !!f.remoteContext },
        ...(a.reproducible ? { tsbuild_reproducible: true } : {}),
        tsbuild_metadata: tsbuildMetadata,
      },
    },
  };
}

/** BuildKit's digestSetForCommit: a 64-hex commit is sha256, else sha1. */
function commitDigest(commit: string): Record<string, string> {
  return commit.length === 64 ? { sha256: commit } : { sha1: commit };
}
