/** builder: Dockerfile front end (pure), build context, and execution. */
export * from './frontend/index.js';
export * from './context/index.js';
export { build, type BuildOptions, type BuildResult, type StepReport, type SecretSource } from './execute/build.js';
export { BuildError, StepFailedError } from './plan/index.js';
export { ENTITLEMENTS, type Entitlement } from './execute/entitlements.js';
export { runImage, type RunImageOptions } from './execute/run-image.js';
export { parseOutput, writeOutput, type OutputSpec } from './execute/output.js';
export { buildPlatforms, type MultiBuildResult } from './execute/multi.js';
