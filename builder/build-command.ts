/**
 * What `tsbuild build` (cli/commands/build.ts, cli/call.ts, cli/commands/build-call.ts) takes from builder: a barrel
 * of its own, for start-up. esbuild's code splitting gives a command's chunk every module a barrel it reaches
 * imports that any command uses (it follows the import statements of live files, not the exports used), so through
 * builder/index.ts `build` loaded signing, crane, transports, run and attestation storage code. Same names as
 * builder/index.ts, which remains the package's way in; .dependency-cruiser.cjs lets cli/ import this file.
 */
export { assertDockerfileNotEmpty, chooseFrontend, parseDockerfile } from './frontend/index.js';
export { defaultDockerfile, readDockerfile, type SecretSource } from './execute/build.js';
export { ENTITLEMENTS, type Entitlement } from './execute/entitlements.js';
export { parseOutput, checkOneStdout, type OutputSpec } from './execute/output.js';
export { parseAnnotation } from './execute/annotations.js';
export { checkDockerfile, type CheckDockerfileOptions, type CheckDockerfileResult } from './execute/check-dockerfile.js';
export { formatShort, type CheckWarning } from './checks/index.js';
export { runBuildPipeline, type BuildPipelineOptions, type BuildPipelineResult } from './pipeline/pipeline.js';
export { pull } from './pipeline/transfer.js';
export { parseCacheSpec } from './pipeline/cache-spec.js';
export { parseBuildContextSource, type BuildContextSource } from './pipeline/named-contexts.js';
export { listTargets, outlineDockerfile, SUBREQUESTS, type Outline, type TargetList, type Subrequest } from './plan/index.js';
export { parseSshSpec } from './execute/ssh-agent.js';
export { parseAttestFlags } from './attest/spec.js';
