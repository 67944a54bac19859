/**
 * The build checks of a build (builder/checks), with what only the build knows: the stages it builds, its
 * base images' configs (so UndefinedVar knows their Env), the .dockerignore and the key-like files its steps copy.
 * They run before any step: warnings go to `events` (type `warning` with its `rule`) and into the result, and
 * with `error=true` a warning fails the build here (`lint violation found for rules: …`).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runChecks, looksLikeSecretFile, type BaseImageInfo, type CheckInput, type CheckWarning } from '../checks/index.js';
import type { DockerfileAst } from '../frontend/index.js';
import { expandWord } from '../frontend/index.js';
import type { EventSink, Platform } from '../../layer-store/index.js';
import { TsbuildError, hostPlatform, platformMatches } from '../../layer-store/index.js';
import { loadBase } from './base-image.js';
import { stagePlatform } from './base-platform.js';
import type { BuildCtx } from './context.js';
import type { BuildOptions } from './options.js';

/** Sends each warning to `events` as a `warning` event carrying its rule. */
export function emitCheckWarnings(events: EventSink, warnings: readonly CheckWarning[]): void {
  for (const w of warnings) {
    events({
      type: 'warning', message: w.detail, location: { file: w.location.file, line: w.location.line },
      rule: { name: w.ruleName, description: w.description, ...(w.url !== undefined ? { url: w.url } : {}) },
    });
  }
}

/**
 * The checks that need nothing but the Dockerfile, for a build whose front end failed (an unknown instruction,
 * a bad stage): BuildKit still reports the warnings found before the error. Emits them; returns nothing.
 */
export function checksBeforeFailure(ast: DockerfileAst, o: BuildOptions, platform: Platform, events: EventSink): void {
  if (o.checks === false) return;
  const r = runChecks({ ast, buildArgs: o.buildArgs, target: o.target, platform, buildPlatform: hostPlatform() });
  emitCheckWarnings(events, r.warnings);
}

/** Most context entries looked at for key-like file names (a larger context is not searched further). */
const MAX_CONTEXT_ENTRIES = 50_000;

/** The checks of a build: the warnings found before any step, and those of the sources the steps selected. */
export interface BuildChecks {
  readonly warnings: readonly CheckWarning[];
  /**
   * SecretInLayer warnings for key-like files inside copied context directories, from the paths the COPY/ADD steps
   * selected (ctx.contextFilesSelected: the context walk each one does anyway, .dockerignore applied): emits them
   * and returns them, once (later calls return []). Called when the steps are done.
   */
  later(): readonly CheckWarning[];
}

/**
 * Runs the checks for the stages `ctx.graph` builds and emits their warnings. Throws a bad check option, the
 * error of a base image that cannot be had, or, with `error=true` and a warning, the lint violation (then the
 * context scan ran first, so its warnings count too).
 */
export async function buildChecks(ctx: BuildCtx): Promise<BuildChecks> {
  const o = ctx.o;
  const bases = new Map<string, BaseImageInfo>();
  let baseError: unknown;
  // Loaded concurrently, as the stages would. Every stage of graph.order is built: a base that cannot be had
  // fails the build now (after the warnings), with the error the stage would give, rather than pulled again.
  await Promise.all(ctx.graph.order.map(async (rs) => {
    if (rs.base.kind !== 'image') return;
    const key = expandWord(rs.stage.base, ctx.graph.metaScope, { escapeToken: ctx.ast.directives.escape }).value;
    try {
      const info = await baseInfo(ctx, rs.base.ref, stagePlatform(rs, ctx.platform), rs.stage.location);
      if (info) bases.set(key, info);
    } catch (e) {
      baseError ??= e;
    }
  }));
  const input: CheckInput = {
    ast: ctx.ast, buildArgs: o.buildArgs, target: o.target, platform: ctx.platform, buildPlatform: hostPlatform(),
    stages: new Set(ctx.graph.order.map((rs) => rs.index)), ignore: ctx.ignore.file ? ctx.ignore.matcher : undefined, bases,
  };
  let report = runChecks(input);
  // With error=true a warning must fail the build before any step: the context is scanned for key-like names
  // now. Otherwise the steps' own selections give them, at the end (BuildChecks.later).
  const scanned = report.config.error === true;
  if (scanned) {
    const files = await secretLookingFiles(ctx);
    if (files) report = runChecks({ ...input, contextFiles: files });
  }
  emitCheckWarnings(ctx.events, report.warnings);
  if (baseError !== undefined) throw baseError;
  // A bad check option fails the build (as BuildKit: "failed to parse check options"); any other failure is the
  // build's own to report, with its own message, when it gets there.
  if (TsbuildError.is(report.failure) && report.failure.code === 'DOCKERFILE_CHECK') throw report.failure;
  if (report.violation) throw report.violation;
  const first = report.warnings;
  let done = scanned; // with error=true the scan above already gave them
  const later = (): readonly CheckWarning[] => {
    if (done) return [];
    done = true;
    const files = ctx.contextFilesSelected.flat();
    if (files.length === 0) return [];
    const seen = new Set(first.map((w) => `${w.location.line}\0${w.ruleName}\0${w.detail}`));
    const more = runChecks({ ...input, contextFiles: files }).warnings.filter((w) => !seen.has(`${w.location.line}\0${w.ruleName}\0${w.detail}`));
    emitCheckWarnings(ctx.events, more);
    return more;
  };
  return { warnings: first, later };
}

/**
 * The base image's Env, SHELL, USER and platform: from the store, pulled when missing (the stage would pull it
 * next anyway; loadBase's errors are the stage's). With `pull`, only what the store already holds (the stage
 * pulls it, once): undefined when it holds nothing, and UndefinedVar is then not reported for that stage.
 */
async function baseInfo(ctx: BuildCtx, ref: string, platform: Platform, location: BuildCtx['graph']['order'][number]['stage']['location']): Promise<BaseImageInfo | undefined> {
  const img = ctx.o.pull ? await ctx.o.store.image(ref, { platform }).catch(() => undefined) : await loadBase(ctx, ref, platform, location);
  if (!img || !platformMatches(platform, ctx.o.store.platformOf(img))) return undefined;
  const c = img.config.config ?? {};
  return { env: c.Env ?? [], shell: (c.Shell?.length ?? 0) > 0, user: c.User ?? '', platform: ctx.o.store.platformOf(img) };
}

/**
 * Context files named like keys, by name only (no stat; .dockerignore applied), when some COPY/ADD of a built
 * stage reads the context; undefined when none does, the build is aborted, or the context cannot be read.
 */
async function secretLookingFiles(ctx: BuildCtx): Promise<string[] | undefined> {
  const copiesContext = ctx.graph.order.some((rs) => rs.stage.commands.some((c) => (c.kind === 'copy' && c.from === undefined) || c.kind === 'add'));
  if (!copiesContext) return undefined;
  const m = ctx.ignore.matcher;
  const out: string[] = [];
  let n = 0;
  const visit = async (abs: string, rel: string): Promise<boolean> => {
    if (ctx.signal.aborted) return false;
    for (const d of await readdir(abs, { withFileTypes: true })) {
      if (++n > MAX_CONTEXT_ENTRIES) return false;
      const r = rel === '' ? d.name : `${rel}/${d.name}`;
      const excluded = m.isExcluded(r);
      if (d.isDirectory()) {
        if ((!excluded || m.mayReincludeUnder(r)) && !(await visit(join(abs, d.name), r))) return false;
      } else if (!excluded && looksLikeSecretFile(r)) {
        out.push(r);
      }
    }
    return true;
  };
  try {
    await visit(ctx.contextDir, '');
  } catch {
    return undefined; // an unreadable context fails the COPY that reads it, with its own message
  }
  return ctx.signal.aborted ? undefined : out;
}
