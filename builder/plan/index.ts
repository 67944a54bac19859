/**
 * builder/plan: the pure middle of the builder (BuildKit's dispatch without effects). From typed, expanded
 * instructions it computes what a step changes in the image config, the history it records, the argv it runs,
 * the RUN mounts after expansion, and the key material of its cache key. No I/O: it imports only
 * builder/frontend and layer-store/core (checked by .dependency-cruiser.cjs, rule plan-is-pure).
 */
export { DEFAULT_PATH, addEnv, cc, cloneConfig, commitHistory, emptyConfig, exposedPortKeys, goDuration, isValidSignal } from './config.js';
export { HISTORY_COMMENT, copyCreatedBy, goList, goQuote, goQuoteList, runCreatedBy } from './history.js';
export { BuildError, StepFailedError } from './errors.js';
export { applyMetadata, applyWorkdir, type MetadataInstruction, type MetadataOptions } from './metadata.js';
export { SCRIPT_DIR, runArgs, runCommand, withShell, type RunCommand, type RunScript } from './argv.js';
export {
  CACHE_RECORD_VERSION, baseInputs, copyKey, copyKeyChange, keyEnv, layersKey, mountMaterial, runKey, stepIdOf, workdirKey,
  type DownloadMaterial, type MountMaterial, type RunKeyOptions, type SourcesMaterial, type StepMaterial, type StepOrigin,
} from './inputs.js';
export { expandRunMounts, stageExpander } from './run-mounts.js';
export {
  docComment, listTargets, outlineDockerfile,
  type Outline, type OutlineArg, type OutlineMount, type OutlineOptions, type SourceLocation, type Target, type TargetList,
} from './outline.js';
export { SUBREQUESTS, type Subrequest, type SubrequestNamed } from './subrequests.js';
