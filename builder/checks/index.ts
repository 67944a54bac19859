/**
 * builder/checks: build checks (BuildKit's "lint" rules and tsbuild's own). Pure: it reads a parsed Dockerfile
 * and what the caller knows (build args, platform, .dockerignore, base images' configs) and returns warnings.
 * `runChecks` is what both a build (warnings printed at the end; `error=true` fails it before any step runs)
 * and `tsbuild build --check` / `--call=check` use. Rule groups: source-rules.ts (as written, every stage),
 * from-rules.ts (FROM lines), stage-rules.ts (while dispatching the stages built), cache-rules.ts (tsbuild's).
 */
import { TsbuildError, hostPlatform, type Platform } from '../../layer-store/core/index.js';
import type { ContextMatcher } from '../context/index.js';
import type { DockerfileAst } from '../frontend/parser/index.js';
import { expandWord } from '../frontend/shell/index.js';
import { DEFAULT_CONFIG, parseCheckOptions, withComments, type CheckConfig } from './config.js';
import { checkStageCache, checkFinalUser } from './cache-rules.js';
import { checkBasePlatform, checkFromLines, globalScope, type FromContext } from './from-rules.js';
import { Reporter, type CheckWarning } from './report.js';
import { RULES } from './rules.js';
import { checkSource, type CheckedStage } from './source-rules.js';
import { dispatchStage, type StageEnd, type StageStart } from './stage-rules.js';

export { ALL_RULES, RULES, type Rule, type RuleName } from './rules.js';
export { parseCheckOptions, isEnabled, type CheckConfig } from './config.js';
export { formatShort, type CheckWarning } from './report.js';
export { isSecretName } from './stage-rules.js';
export { looksLikeSecretFile } from './cache-rules.js';

/** What the checks know of a base image. */
export interface BaseImageInfo {
  /** Its config's `Env`. */
  readonly env: readonly string[];
  /** Its config sets SHELL. */
  readonly shell: boolean;
  /** Its config's `User` ('' when unset). */
  readonly user: string;
  /** Its platform, when known (InvalidBaseImagePlatform). */
  readonly platform?: Platform | undefined;
}

export interface CheckInput {
  readonly ast: DockerfileAst;
  readonly buildArgs?: Readonly<Record<string, string | undefined>> | undefined;
  /** The stage built (case-insensitive name); default the last. */
  readonly target?: string | undefined;
  /**
   * The stages built (indices): their instructions get the dispatch-time rules. Default: every stage when
   * `allStages`, else the last stage (or `target`) and the stages it is FROM.
   */
  readonly stages?: ReadonlySet<number> | undefined;
  /** Check every stage, as `--call=check` does without a target. */
  readonly allStages?: boolean | undefined;
  /** The target platform (default: this machine's), and the build platform. */
  readonly platform?: Platform | undefined;
  readonly buildPlatform?: Platform | undefined;
  /** The .dockerignore matcher (CopyIgnoredFile). */
  readonly ignore?: ContextMatcher | undefined;
  /** Base images by the name FROM expands to (with the build args). */
  readonly bases?: ReadonlyMap<string, BaseImageInfo> | undefined;
  /** Context files (relative, .dockerignore applied) for tsbuild's SecretInLayer on directory copies. */
  readonly contextFiles?: readonly string[] | undefined;
  /**
   * Check options replacing the Dockerfile's `# check=` directive (BuildKit's BUILDKIT_DOCKERFILE_CHECK);
   * default: the build arg of that name, else the directive.
   */
  readonly options?: string | undefined;
}

export interface CheckReport {
  /** Warnings in the order rules reported them. */
  readonly warnings: readonly CheckWarning[];
  readonly config: CheckConfig;
  /**
   * The error the Dockerfile fails with before any step could run (a bad instruction, a bad `# check=`
   * option), when the checks hit one: the warnings before it are still reported.
   */
  readonly failure?: unknown;
  /** With `error=true` and at least one warning: BuildKit's `lint violation found for rules: …`. */
  readonly violation?: TsbuildError | undefined;
}

/** A reporter whose warnings nobody reads (stages that are walked only for their successors' sake). */
const muted = (file: string): Reporter => new Reporter(file, { ...DEFAULT_CONFIG, skipAll: true });

/** Runs every enabled check on `o.ast`; never throws for what it finds (see `failure`). */
export function runChecks(o: CheckInput): CheckReport {
  const file = o.ast.file;
  const buildArgs = o.buildArgs ?? {};
  const text = o.options ?? buildArgs.BUILDKIT_DOCKERFILE_CHECK ?? o.ast.directives.check ?? '';
  let config: CheckConfig;
  try {
    config = parseCheckOptions(text, o.options !== undefined || buildArgs.BUILDKIT_DOCKERFILE_CHECK !== undefined ? 'BUILDKIT_DOCKERFILE_CHECK' : `${file}: # check=`);
  } catch (e) {
    return { warnings: [], config: DEFAULT_CONFIG, failure: e };
  }
  const rep = new Reporter(file, config);
  const src = checkSource(o.ast, rep, config);
  if (src.failure !== undefined) return { warnings: rep.warnings, config, failure: src.failure };
  const platform = o.platform ?? hostPlatform();
  const fc: FromContext = {
    metaArgs: src.metaArgs, buildArgs, escapeToken: o.ast.directives.escape,
    platform: { target: platform, build: o.buildPlatform ?? hostPlatform() },
  };
  checkFromLines(src.stages, fc, rep, config);
  const failure = dispatchAll(src.stages, o, fc, rep, config, platform);
  if (failure !== undefined) return { warnings: rep.warnings, config, failure };
  const violation = config.error && rep.fired.length > 0
    ? new TsbuildError('DOCKERFILE_CHECK', `lint violation found for rules: ${rep.fired.join(', ')}`, {
      location: rep.warnings[0]!.location,
      hint: 'fix the warnings above, or skip rules with # check=skip=RULE (error=true in the check directive or BUILDKIT_DOCKERFILE_CHECK makes warnings fail the build)',
    })
    : undefined;
  return { warnings: rep.warnings, config, violation };
}

/** The target stage's index: the last stage named `target` (case-insensitive), else the last stage. */
function targetIndex(stages: readonly CheckedStage[], target: string | undefined): number | undefined {
  if (target === undefined) return stages.length - 1;
  const t = target.toLowerCase();
  for (let i = stages.length - 1; i >= 0; i--) if (stages[i]!.from.stageName === t) return i;
  return undefined;
}

/** Walks every stage in file order (each starts from its base's end) and reports for those that are built. */
function dispatchAll(stages: readonly CheckedStage[], o: CheckInput, fc: FromContext, rep: Reporter, config: CheckConfig, platform: Platform): unknown {
  const metaScope = globalScope(fc) ?? new Map<string, string>();
  const lex = { escapeToken: o.ast.directives.escape };
  const target = targetIndex(stages, o.target);
  const baseNames = new Map<number, string>();
  const endsByIndex = new Map<number, StageEnd>();
  const parentOf = new Map<number, number>();
  const byName = new Map<string, number>();
  for (const s of stages) {
    let baseName: string;
    try {
      baseName = expandWord(s.from.image, metaScope, lex).value;
    } catch {
      baseName = s.from.image;
    }
    const parent = byName.get(baseName.toLowerCase());
    if (parent !== undefined) parentOf.set(s.index, parent);
    if (s.from.stageName !== undefined) byName.set(s.from.stageName, s.index);
    baseNames.set(s.index, baseName);
  }
  const built = o.stages ?? (o.allStages ? new Set(stages.map((s) => s.index)) : chain(target, parentOf));
  for (const s of stages) {
    const isBuilt = built.has(s.index);
    const r = isBuilt ? rep : muted(rep.file);
    const baseName = baseNames.get(s.index) ?? s.from.image;
    const parent = parentOf.get(s.index);
    let start: StageStart;
    if (parent !== undefined) {
      start = endsByIndex.get(parent) ?? { env: [], shell: false, workdirSet: false, user: '' };
    } else if (baseName.toLowerCase() === 'scratch') {
      start = { env: [], shell: false, workdirSet: false, user: '' };
    } else {
      const info = o.bases?.get(baseName);
      start = { env: info?.env ?? [], shell: info?.shell ?? false, workdirSet: false, user: info?.user ?? '', envKnown: info !== undefined || o.bases === undefined };
      if (isBuilt && info?.platform) {
        let want = platform;
        const p = s.from.platform;
        if (p !== undefined) {
          try {
            const v = expandWord(p, metaScope, lex).value;
            const parsed = parsePlatformLoose(v);
            if (parsed) want = parsed;
          } catch { /* the build reports it */ }
        }
        checkBasePlatform(s, baseName, want, info.platform, r, config);
      }
    }
    const { end, failure } = dispatchStage(s, start, { metaScope, buildArgs: fc.buildArgs, lex, ignore: o.ignore }, r);
    if (failure !== undefined && isBuilt) return failure;
    endsByIndex.set(s.index, end);
    if (isBuilt) {
      checkStageCache(s, r, { contextFiles: o.contextFiles });
      if (s.index === target) checkFinalUser(s, end.user, r, withComments(config, s.node.comments));
    }
  }
  return undefined;
}

/** The target and the stages it is FROM (used when the caller did not say which stages are built). */
function chain(target: number | undefined, parentOf: ReadonlyMap<number, number>): Set<number> {
  const out = new Set<number>();
  for (let i = target; i !== undefined && !out.has(i); i = parentOf.get(i)) out.add(i);
  return out;
}

function parsePlatformLoose(v: string): Platform | undefined {
  const [os, architecture, variant] = v.split('/');
  if (!os || !architecture) return undefined;
  return { os, architecture, ...(variant ? { variant } : {}) };
}

