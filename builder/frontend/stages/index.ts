/**
 * Stages (BuildKit's instructions.Parse + the stage/arg logic of dockerfile2llb/convert.go):
 * typed instructions grouped under their FROM, global (meta) ARGs, the dependency graph a target needs,
 * and the ARG/ENV scope used to expand each instruction.
 */
export { toStages, type Stage, type StagesResult } from './stages.js';
export { PLATFORM_ARGS, PROXY_ARGS, TARGET_STAGE_ARG, isPredefinedArg, proxyEnv, platformArgs, resolveMetaArgs, type PlatformOptions, type ResolveOptions } from './args.js';
export { resolveStageGraph, isImageReference, type StageBase, type StageEdge, type ImageUse, type ResolvedStage, type StageGraph } from './graph.js';
export { StageScope, stageScope, type ScopeOptions } from './scope.js';
export { contextKey, copyFromContext, namedContextFor, type NamedContextUse } from './named.js';
export { SOURCE_DATE_EPOCH, sourceDateEpochSource, type EpochSource, type EpochOptions } from './epoch.js';
