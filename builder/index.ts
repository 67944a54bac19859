/** builder: Dockerfile front end (pure), build context, and execution. */
export * from './frontend/index.js';
export * from './context/index.js';
export { build, type BuildObserver, type BuildOptions, type BuildResult, type StepReport, type SecretSource } from './execute/build.js';
export { defaultDockerfile, readDockerfile } from './execute/build.js';
export { BuildError, StepFailedError } from './plan/index.js';
export { ENTITLEMENTS, type Entitlement } from './execute/entitlements.js';
export { runImage, type RunImageOptions } from './execute/run-image.js';
export { parseOutput, writeOutput, checkOneStdout, type OutputSpec, type ImageOutputFormat, type ParseOutputOptions } from './execute/output.js';
export { parseAnnotation, ANNOTATION_TYPES, type Annotation, type AnnotationType } from './execute/annotations.js';
export { formatImage, checkImageFormat, type ImageFormat, type FormatImageOptions } from './execute/image-format.js';
export { buildPlatforms, type MultiBuildResult } from './execute/multi.js';
export { checkDockerfile, type CheckDockerfileOptions, type CheckDockerfileResult } from './execute/check-dockerfile.js';
export { runChecks, parseCheckOptions, formatShort, ALL_RULES, RULES, type CheckInput, type CheckReport, type CheckWarning, type Rule } from './checks/index.js';
export { runBuildPipeline, type BuildPipelineOptions, type BuildPipelineResult, type ImportedCache, type ExportedCache, type PushedTag } from './pipeline/pipeline.js';
export { pull, push, copy, type PullOptions, type PullResult, type PushOptions, type PushResult, type RegistryCopyOptions, type RegistryCopyResult } from './pipeline/transfer.js';
export {
  copyBetween, parseImageLocation, openImageSource, openImageDestination, namesRegistryHost,
  type ImageLocation, type TransportContext, type TransportCopyOptions, type TransportCopyResult, type OpenedDestination,
} from './pipeline/transports.js';
export {
  imageDigest, imageConfig, imageManifest, writeBlob, catalog, exportFilesystem, resolveImage, withSource,
  type CraneReadOptions, type ResolvedImage,
} from './pipeline/crane-read.js';
export {
  flattenImage, appendLayers, mutateImage, applyConfigChanges,
  type CraneWriteOptions, type CraneWriteResult, type AppendOptions, type ConfigChanges,
} from './pipeline/crane-write.js';
export { parseCacheSpec, type CacheSpec } from './pipeline/cache-spec.js';
export { parseBuildContextSource, resolveNamedContexts, type BuildContextSource } from './pipeline/named-contexts.js';
export {
  listTargets, outlineDockerfile, SUBREQUESTS,
  type Outline, type OutlineArg, type OutlineMount, type OutlineOptions, type SourceLocation, type Target, type TargetList, type Subrequest,
} from './plan/index.js';
export { parseSshSpec, SshAgents, type SshSource } from './execute/ssh-agent.js';
export { isRemoteContext } from './pipeline/remote-context.js';
export * from './sign/index.js';
export { parseAttestFlags, canonicalAttest, type Attestations, type AttestFlags, type ProvenanceAttest, type SbomAttest } from './attest/spec.js';
export { readAttestations, statementsOfIndex, attachAttestations, ATTESTATION_ARTIFACT_TYPE, type StoredAttestation } from './attest/storage.js';
export { IN_TOTO_STATEMENT_V1, IN_TOTO_MEDIA_TYPE, PREDICATE_SLSA_PROVENANCE_V1, PREDICATE_SPDX, imagePurl, type InTotoStatement } from './attest/intoto.js';
