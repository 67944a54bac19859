/**
 * SOURCE_DATE_EPOCH as BuildKit's Dockerfile frontend reads it (dockerfile2llb epoch.go): from `--build-arg
 * SOURCE_DATE_EPOCH` (even empty), else from a global `ARG SOURCE_DATE_EPOCH=…` with a non-empty value. The value
 * is Unix seconds, `context` (a local context has no time: none), or the name of a source-only stage (`FROM
 * scratch`, ARGs and exactly one `ADD <http(s) URL>`), whose download gives the time; anything else fails with
 * BuildKit's words. Pure: fetching the stage's URL is the executor's.
 */
import { DockerfileError } from '../errors.js';
import type { AddInstruction, InstructionLocation } from '../instructions/index.js';
import type { EscapeToken } from '../parser/index.js';
import { expandAt } from './args.js';
import type { Stage } from './stages.js';

export const SOURCE_DATE_EPOCH = 'SOURCE_DATE_EPOCH';

/** Where the build's epoch comes from: a time, or the one remote ADD of a source-only stage. */
export type EpochSource =
  | { readonly kind: 'seconds'; readonly seconds: number }
  | { readonly kind: 'url'; readonly url: string; readonly checksum?: string; readonly stage: string; readonly location: InstructionLocation };

export interface EpochOptions {
  readonly stages: readonly Stage[];
  /** The global scope (StageGraph.metaScope). */
  readonly metaScope: ReadonlyMap<string, string>;
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  /** Where a Dockerfile default was declared (its first meta ARG of that name), for error locations. */
  readonly declaredAt?: InstructionLocation;
  readonly escapeToken?: EscapeToken;
}

/** Returns the build's SOURCE_DATE_EPOCH source, or undefined when there is none. Throws DockerfileError with BuildKit's text. */
export function sourceDateEpochSource(o: EpochOptions): EpochSource | undefined {
  const given = Object.hasOwn(o.buildArgs, SOURCE_DATE_EPOCH) ? o.buildArgs[SOURCE_DATE_EPOCH] : undefined;
  const value = given ?? o.metaScope.get(SOURCE_DATE_EPOCH) ?? '';
  if (value === '' || value === 'context') return undefined;
  const where = given !== undefined || o.declaredAt === undefined ? { ref: `--build-arg ${SOURCE_DATE_EPOCH}=${value}` } : o.declaredAt;
  if (/^[+-]?\d+$/.test(value)) {
    const seconds = Number(value);
    if (seconds < 0 || !Number.isSafeInteger(seconds)) {
      throw new DockerfileError('DOCKERFILE_BAD_ARGUMENT', `invalid ${SOURCE_DATE_EPOCH}: ${value}`, {
        hint: 'give Unix seconds from 0 (1970-01-01) on', location: where });
    }
    return { kind: 'seconds', seconds };
  }
  const stage = o.stages.find((s) => s.name !== undefined && s.name === value.toLowerCase());
  if (stage === undefined) {
    throw new DockerfileError('DOCKERFILE_BAD_ARGUMENT', `invalid ${SOURCE_DATE_EPOCH}: ${value}`, {
      hint: 'give Unix seconds, `context`, or the name of a stage that is FROM scratch with one ADD of an http(s) URL', location: where });
  }
  return stageSource(stage, o);
}

/** The remote ADD of a source-only stage (BuildKit's sourceDateEpochStageSource), checked as BuildKit checks it. */
function stageSource(stage: Stage, o: EpochOptions): EpochSource {
  const fail = (message: string, at: InstructionLocation = stage.location): never => {
    throw new DockerfileError('DOCKERFILE_STAGE', message, {
      hint: `stage ${stage.name} gives ${SOURCE_DATE_EPOCH}: it may hold only FROM scratch, ARG and one ADD of an http(s) URL`, location: at });
  };
  // The stage's FROM and ARGs see the global args without SOURCE_DATE_EPOCH itself.
  const env = new Map(o.metaScope);
  env.delete(SOURCE_DATE_EPOCH);
  if (expandAt(stage.base, env, stage.location, o.escapeToken).value !== 'scratch') fail(`${SOURCE_DATE_EPOCH} stage must use FROM scratch`);
  let add: AddInstruction | undefined;
  let url = '';
  for (const c of stage.commands) {
    if (c.kind === 'arg') {
      for (const a of c.args) {
        const b = Object.hasOwn(o.buildArgs, a.key) ? o.buildArgs[a.key] : undefined;
        if (b !== undefined) env.set(a.key, b);
        else if (a.value !== undefined) env.set(a.key, expandAt(a.value, env, c.location, o.escapeToken).value);
      }
    } else if (c.kind === 'add') {
      if (add !== undefined) fail(`${SOURCE_DATE_EPOCH} stage must contain exactly one remote ADD`, c.location);
      if (c.sourceContents.length !== 0 || c.sources.length !== 1) fail(`${SOURCE_DATE_EPOCH} stage must contain exactly one remote ADD source`, c.location);
      add = c;
      url = expandAt(c.sources[0]!, env, c.location, o.escapeToken).value;
      // As BuildKit's isHTTPSource: an http(s) URL that is not a git repository (ending .git, or .git#ref).
      if (/^(git@|git:\/\/|ssh:\/\/)/.test(url) || /\.git(#|$)/.test(url)) fail(`${SOURCE_DATE_EPOCH} from a git source (${url}) is not supported by tsbuild`, c.location);
      if (!/^https?:\/\//.test(url)) fail(`${SOURCE_DATE_EPOCH} stage source must be a single HTTP(S) or Git ADD`, c.location);
    } else {
      fail(`${SOURCE_DATE_EPOCH} stage does not meet source-only requirements: unsupported ${c.kind} instruction`, c.location);
    }
  }
  if (add === undefined) return fail(`${SOURCE_DATE_EPOCH} stage must contain exactly one remote ADD`);
  const checksum = add.checksum !== undefined ? expandAt(add.checksum, env, add.location, o.escapeToken).value : undefined;
  return { kind: 'url', url, ...(checksum ? { checksum } : {}), stage: stage.name!, location: add.location };
}
