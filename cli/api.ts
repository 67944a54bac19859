/**
 * The typed programmatic API of tsbuild (the package's main export): every export is listed here by name. The
 * CLI is a thin layer over it: `tsbuild build` is runBuildPipeline, `pull`/`push`/`copy` are pull/push/copy.
 */
import { readFile } from 'node:fs/promises';
import { parseDockerfile, type DockerfileAst, type InstructionNode, type Heredoc } from '../builder/index.js';
import { TsbuildError } from '../layer-store/index.js';

// ── Dockerfile front end ────────────────────────────────────────────────────────────────────────────────────
/** Parses Dockerfile text or bytes into its AST (pure); a syntax error is a DockerfileError with its line. */
export { parseDockerfile } from '../builder/index.js';
/** The parsed Dockerfile: instruction nodes in file order, with locations, flags and heredocs. */
export type { DockerfileAst, InstructionNode, Heredoc, ParseOptions } from '../builder/index.js';

/**
 * BuildKit's outline (build args, secrets and SSH sockets a target uses) and targets list (the stages) of a parsed
 * Dockerfile, in BuildKit's subrequest JSON shape (`tsbuild build --call=outline|targets`), and the subrequests
 * the frontend answers (`--call=subrequests.describe`). Pure.
 */
export { outlineDockerfile, listTargets, SUBREQUESTS } from '../builder/index.js';
export type { Outline, OutlineArg, OutlineMount, OutlineOptions, SourceLocation, Target, TargetList, Subrequest } from '../builder/index.js';

// ── Build ───────────────────────────────────────────────────────────────────────────────────────────────────
/** Builds one image from a context and Dockerfile into the store; returns digests, tags and step reports. */
export { build } from '../builder/index.js';
/** Builds one image per platform and commits an index naming them. */
export { buildPlatforms } from '../builder/index.js';
/** Build checks (BuildKit's rules and tsbuild's): `checkDockerfile` is `tsbuild build --check`; `runChecks` the pure engine. */
export { checkDockerfile, runChecks, ALL_RULES, type CheckDockerfileOptions, type CheckDockerfileResult, type CheckWarning, type Rule } from '../builder/index.js';
/** Runs what `tsbuild build` does: import caches → build → inline cache → outputs → export caches → push. */
export { runBuildPipeline } from '../builder/index.js';
/** Parses `--output` (buildx's types and attributes; `dest=-` to a given stream) and writes a built image there. */
export { parseOutput, writeOutput } from '../builder/index.js';
/** Parses `--annotation [TYPE[,TYPE]:]KEY=VALUE`; rewrites an image's media types and annotations (BuildKit's rules). */
export { parseAnnotation, formatImage } from '../builder/index.js';
/** Parses `--cache-from`/`--cache-to` (`type=registry,ref=REF`, `type=local,src|dest=DIR`, `type=inline`). */
export { parseCacheSpec } from '../builder/index.js';
export { parseBuildContextSource, type BuildContextSource } from '../builder/index.js';
/** Parses `--ssh default|ID=SOCKET|ID=KEYFILE[,KEYFILE]`; SshAgents starts and stops them for a build. */
export { parseSshSpec, SshAgents, type SshSource } from '../builder/index.js';
/** `--provenance`/`--sbom`/`--attest` as buildx reads them (runBuildPipeline's `attestations`), and the attestations of a stored index read back. */
export { parseAttestFlags, readAttestations, type Attestations, type AttestFlags, type ProvenanceAttest, type SbomAttest, type StoredAttestation, type InTotoStatement } from '../builder/index.js';
/** Git references as BuildKit reads them (`https://host/repo.git#ref:subdir`, `git@host:repo.git`), and whether a context is remote. */
export { parseGitRef, isGitRef, isRemoteContext, type GitRef } from '../builder/index.js';
/** The entitlements a build can be granted (`--allow`). */
export { ENTITLEMENTS } from '../builder/index.js';
/** Options and results of build, buildPlatforms and runBuildPipeline. */
export type {
  BuildOptions, BuildResult, MultiBuildResult, StepReport, SecretSource, Entitlement, OutputSpec, CacheSpec,
  ImageOutputFormat, ParseOutputOptions, Annotation, AnnotationType, ImageFormat,
  BuildPipelineOptions, BuildPipelineResult, ImportedCache, ExportedCache, PushedTag,
} from '../builder/index.js';

// ── Run ─────────────────────────────────────────────────────────────────────────────────────────────────────
/** Runs a command in a new container from an image in the store; returns its exit code. */
export { runImage, type RunImageOptions } from '../builder/index.js';
/** Finds runc (or the given runtime), else the chroot fallback; RuntimeMissingError when neither works. */
export { findRuntime, type FindRuntimeOptions } from '../runtime-exec/index.js';
export { parseIsolation, type Isolation } from '../runtime-exec/index.js';
/** The runtime interface, and the limits and network a RUN step or container gets. */
export type { Runtime, Limits, NetworkMode } from '../runtime-exec/index.js';
/** An `--add-host` entry and an `--ulimit` value (BuildOptions `extraHosts`, `ulimits`). */
export type { ExtraHost, Ulimit } from '../runtime-exec/index.js';
/** Returns build args plus the proxies of Docker's config.json, as `tsbuild build` and the docker CLI add them. */
export { withDockerProxyArgs, type DockerProxyOptions } from './docker-proxy.js';

// ── Registry verbs ──────────────────────────────────────────────────────────────────────────────────────────
/** Pulls an image (one platform, or the whole index) from a registry into the store and names it. */
export { pull, type PullOptions, type PullResult } from '../builder/index.js';
/** Pushes an image or index from the store to a registry: blobs, then manifests, then the tag. */
export { push, type PushOptions, type PushResult } from '../builder/index.js';
/** Copies an image between registry references, streaming (mounting blobs within one registry). */
export { copy, type RegistryCopyOptions, type RegistryCopyResult } from '../builder/index.js';
/**
 * cosign-compatible signatures (builder/sign): key pairs in cosign's encrypted format, `signImage` (`tsbuild sign`),
 * `verifyImage` (`tsbuild verify`), containers policy.json (`loadPolicy`, `checkPolicy`), `push({ signBy })`.
 */
export {
  generateKeyPair, readPrivateKey, readPublicKey, signImage, verifyImage, loadPolicy, checkPolicy,
  type SigningKey, type VerifyingKey, type SignImageOptions, type SignImageResult, type VerifyImageOptions, type VerifiedImage, type Policy,
} from '../builder/index.js';
/**
 * Copies an image between skopeo's transports (`docker://REF`, `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`,
 * `docker-archive:FILE[:REF]`, `store:REF`, a bare name) through copyImage; `tsbuild copy`.
 */
export { copyBetween, parseImageLocation, openImageSource, openImageDestination, type ImageLocation, type TransportCopyOptions, type TransportCopyResult } from '../builder/index.js';
/**
 * crane's verbs over every transport (a bare name: the store's image when it has one, else the registry's):
 * digest, config, manifest, blob, catalog, export (flattened filesystem tar), flatten, append, mutate.
 */
export {
  imageDigest, imageConfig, imageManifest, writeBlob, catalog, exportFilesystem, resolveImage,
  flattenImage, appendLayers, mutateImage, applyConfigChanges,
  type CraneReadOptions, type CraneWriteOptions, type CraneWriteResult, type AppendOptions, type ConfigChanges, type ResolvedImage,
} from '../builder/index.js';

// ── Store ───────────────────────────────────────────────────────────────────────────────────────────────────
/** The OCI-layout image store under a root directory: blobs, images, snapshots, GC, fsck. */
export { LayerStore } from '../layer-store/index.js';
/** Imports a root filesystem tar as a one-layer image. */
export { importRootfs, type ImportOptions, type ImportResult } from '../layer-store/index.js';
/** Writes images from the store to an OCI or docker archive. */
export { saveImages, type SaveOptions } from '../layer-store/index.js';
/** Loads the images of an OCI or docker archive into the store. */
export { loadArchive, type LoadOptions, type LoadResult } from '../layer-store/index.js';
/** The one generic copy between an ImageSource and an ImageDestination (pull, push, save and load use it). */
export { copyImage, type CopyOptions } from '../layer-store/index.js';
/** The source and destination views copyImage works on. */
export type { ImageSource, ImageDestination } from '../layer-store/index.js';

// ── Docker's views of images and Go templates ───────────────────────────────────────────────────────────────
/**
 * Go's text/template as docker's `--format` runs it (builtins plus docker's json, split, join, title, lower, upper,
 * pad, truncate) and docker's list formats (`table [TEMPLATE]`, `json`); how JS values stand for Go's (goMap,
 * goNil, goStruct) and Go's encoding/json (marshalJson). Pure.
 */
export {
  compileTemplate, renderTemplate, formatRows, isTableFormat, TemplateError, goMap, goMapsDeep, goNil, goStruct, marshalJson, printValue, sprintf,
  type GoTemplate, type TemplateOptions, type FormatRowsOptions, type TemplateFunc, type MarshalOptions,
} from './go-template/index.js';
/**
 * Docker's `image inspect` object of a stored image, the rows of `images` and `history` (docker's field names,
 * headers and default tables), go-units sizes and durations, and `import --change` applied to a config. Pure.
 */
export {
  dockerImageInspect, formatInspectJson, familiarName, imageRows, historyRows, imagesTableFormat, IMAGE_HEADERS, HISTORY_HEADERS,
  HISTORY_TABLE_FORMAT, humanSize, humanDuration, applyChanges, CHANGE_INSTRUCTIONS,
  type DockerInspectOptions, type ImageRow, type ImageRowsOptions, type HistoryRowContext,
} from './docker-view/index.js';
/** Imports a rootfs tar or loads an archive from a stream (stdin) instead of a file. */
export { importRootfsStream, loadArchiveStream } from '../layer-store/index.js';
/** The rows of `tsbuild images` and `history` as the store computes them, before docker's shaping. */
export { listImageSummaries, imageHistory, type ImageSummary, type HistoryRow, type StoredImage } from '../layer-store/index.js';

// ── Registry client ─────────────────────────────────────────────────────────────────────────────────────────
/** OCI distribution over HTTP(S): auth, retries, resumable uploads; `source(ref)` and `destination(ref)`. */
export { RegistryClient, type RegistryClientOptions } from '../registry-client/index.js';
/** Parses and normalises an image reference (`alpine` → docker.io/library/alpine:latest) and formats it back. */
export { parseReference, formatReference, type Reference } from '../registry-client/index.js';
/** The credentials of Docker's config.json and its credential helpers. */
export { dockerKeychain, type Keychain } from '../registry-client/index.js';

// ── Cache ───────────────────────────────────────────────────────────────────────────────────────────────────
/** The local step cache (records keyed by step inputs); a corrupt record is a miss. */
export { CacheStore, type CacheStoreOptions } from '../cache/index.js';
/** Imports a cache artifact from an ImageSource (lazily: records now, layers on a hit). */
export { importCache, type ImportCacheOptions, type RemoteCache } from '../cache/index.js';
/** Exports cache records (and with mode=max the cache mounts) as an artifact to an ImageDestination. */
export { exportCache, type ExportCacheOptions } from '../cache/index.js';

// ── Errors ──────────────────────────────────────────────────────────────────────────────────────────────────
/** The root of every tsbuild error: a stable `code`, an optional `location` and `hint`, and `cause`. */
export { TsbuildError, type ErrorCode } from '../layer-store/index.js';
/** Returns an error as one line: `<what> (<file:line | ref>): <hint>`. */
export { formatError } from '../layer-store/index.js';
/** A Dockerfile that does not parse or has a bad instruction (with its line). */
export { DockerfileError } from '../builder/index.js';
/** A build context problem (a missing source, an unreadable file). */
export { ContextError } from '../builder/index.js';
/** A build that cannot go on (a missing base image, a bad stage), and a RUN step that failed. */
export { BuildError, StepFailedError } from '../builder/index.js';
/** A registry answered with an error, or refused the credentials. */
export { RegistryError, AuthError } from '../registry-client/index.js';
/** A reference, digest or manifest that is not valid; bytes whose digest is not the expected one. */
export { InvalidReferenceError, InvalidDigestError, InvalidManifestError, DigestMismatchError } from '../layer-store/index.js';
/** An image or blob that is not in the store; a store another process holds locked. */
export { ImageNotFoundError, BlobNotFoundError, StoreLockedError } from '../layer-store/index.js';
/** No usable OCI runtime; a container command that failed. */
export { RuntimeMissingError, RunFailedError } from '../runtime-exec/index.js';
/** A cache that cannot be imported or exported. */
export { CacheImportError, CacheExportError } from '../cache/index.js';
/** An operation stopped by its AbortSignal. */
export { AbortedError } from '../layer-store/index.js';

// ── Model, platforms and events ─────────────────────────────────────────────────────────────────────────────
/** Parses a `sha256:<hex>` digest (InvalidDigestError otherwise). */
export { parseDigest } from '../layer-store/index.js';
/** This machine's platform, and `os/arch[/variant]` parsing and formatting. */
export { hostPlatform, parsePlatform, formatPlatform } from '../layer-store/index.js';
/** The OCI model types, progress events and the logger interface. */
export type { Digest, Descriptor, ImageConfig, ImageManifest, ImageIndex, BuildEvent, EventSink, Logger, MissReason, Platform } from '../layer-store/index.js';

// ── Dockerfile files and `tsbuild parse --json` (defined here) ─────────────────────────────────────────────────
/** Reads and parses a Dockerfile from disk; a missing file is a DOCKERFILE_NOT_FOUND error. */
export async function parseDockerfileFile(path: string): Promise<DockerfileAst> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TsbuildError('DOCKERFILE_NOT_FOUND', code === 'EISDIR' ? `${path} is a directory, not a Dockerfile` : `cannot read Dockerfile ${path}: ${code ?? String(e)}`, {
      location: { ref: path },
      hint: 'pass the Dockerfile with -f FILE, or run in the directory that has one',
      cause: e,
    });
  }
  return parseDockerfile(bytes, { file: path });
}

/** One instruction in `tsbuild parse --json` output (documented in the README). */
export interface InstructionJson {
  cmd: string;
  line: number;
  endLine: number;
  flags: string[];
  args: string[];
  json: boolean;
  heredocs: { name: string; content: string; expand: boolean; chomp: boolean }[];
  next?: InstructionJson;
}

function nodeToJson(n: InstructionNode): InstructionJson {
  const out: InstructionJson = {
    cmd: n.cmd,
    line: n.line,
    endLine: n.endLine,
    flags: [...n.flags],
    args: [...n.args],
    json: n.json,
    heredocs: n.heredocs.map((h: Heredoc) => ({ name: h.name, content: h.content, expand: h.expand, chomp: h.chomp })),
  };
  if (n.next) out.next = nodeToJson(n.next);
  return out;
}

/** Returns the `tsbuild parse --json` shape: one object per instruction, in file order. */
export function astToJson(ast: DockerfileAst): InstructionJson[] {
  return ast.children.map(nodeToJson);
}
