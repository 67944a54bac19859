/**
 * One stage: its base state, its base's ONBUILD triggers then its own instructions, each expanded with the
 * stage's scope and dispatched (metadata to plan's applyMetadata, the rest to a step in steps/), with step
 * events around each. A failing step's error gets the instruction's location on the way up.
 */
import { TsbuildError, throwIfAborted, withLocation } from '../../layer-store/index.js';
import { StageScope, parseDockerfile, parseInstruction, type Instruction, type ResolvedStage, type RunMount } from '../frontend/index.js';
import { BuildError, applyMetadata, expandRunMounts, stageExpander } from '../plan/index.js';
import { baseState } from './base-image.js';
import { asStepError } from './step-error.js';
import { loc, type BuildCtx, type StageState, type StepCall } from './context.js';
import { copyStep } from './steps/copy.js';
import { runStep } from './steps/run.js';
import { workdirStep } from './steps/workdir.js';

/** Runs every instruction of `rs` on its base; returns the stage's final state. */
export async function runStage(ctx: BuildCtx, rs: ResolvedStage): Promise<StageState> {
  throwIfAborted(ctx.signal);
  const st = await baseState(ctx, rs);
  const baseName = rs.base.kind === 'image' ? rs.base.ref : rs.base.kind === 'scratch' ? 'scratch' : `stage ${rs.base.index}`;
  const stageLabel = rs.stage.name ?? (ctx.graph.order.length > 1 ? `stage-${rs.index}` : '');
  const commands: { ins: Instruction; onbuild: boolean }[] = [];
  // ONBUILD triggers of the base (an image or an earlier stage) run first, before the stage's own instructions.
  const triggers = rs.base.kind === 'scratch' ? [] : (rs.base.kind === 'stage' ? (await ctx.results.get(rs.base.index)!).config.config?.OnBuild : st.config.config?.OnBuild) ?? [];
  if (st.config.config) st.config.config.OnBuild = null;
  for (const t of triggers) {
    // Each trigger is one instruction; it reports the FROM line as its location (as BuildKit does).
    const tast = parseDockerfile(t, { file: rs.stage.location.file });
    for (const node of tast.children) {
      commands.push({ ins: parseInstruction({ ...node, line: rs.stage.location.line, endLine: rs.stage.location.endLine }, rs.stage.location.file), onbuild: true });
    }
  }
  for (const c of rs.stage.commands) commands.push({ ins: c, onbuild: false });
  const total = commands.length + 1;
  const prefix = (i: number): string => `[${stageLabel ? stageLabel + ' ' : ''}${i}/${total}]`;
  const fromId = `s${rs.index}-0`;
  ctx.events({ type: 'step.start', id: fromId, name: `${prefix(1)} FROM ${baseName}`, ...(stageLabel ? { stage: stageLabel } : {}), index: 1, total });
  ctx.events({ type: 'step.done', id: fromId });

  const parentScope = rs.base.kind === 'stage' ? (await ctx.results.get(rs.base.index)!).scope : undefined;
  const scope = new StageScope({
    metaScope: ctx.graph.metaScope,
    buildArgs: ctx.o.buildArgs ?? {},
    baseEnv: st.config.config?.Env ?? [],
    ...(parentScope ? { inherit: parentScope } : {}),
    escapeToken: ctx.ast.directives.escape,
  });
  const noCache = ctx.o.noCache === true || (rs.stage.name !== undefined && (ctx.o.noCacheFilter ?? []).includes(rs.stage.name));
  let cmdSet = false;
  for (let i = 0; i < commands.length; i++) {
    throwIfAborted(ctx.signal);
    const { ins: raw, onbuild } = commands[i]!;
    const ins = scope.apply(raw);
    // RUN's mounts are expanded here, once, with the scope as of this instruction (before the step starts).
    const mounts = ins.kind === 'run' ? expandRunMounts(ins, stageExpander(scope.vars(), ctx.ast.directives.escape)) : [];
    const id = `s${rs.index}-${i + 1}`;
    const name = `${prefix(i + 2)} ${onbuild ? 'ONBUILD ' : ''}${displayOf(ins)}`;
    const t0 = Date.now();
    ctx.events({ type: 'step.start', id, name, ...(stageLabel ? { stage: stageLabel } : {}), index: i + 2, total });
    try {
      if (ins.kind === 'cmd') cmdSet = true;
      await dispatch({ ctx, stage: rs, state: st, scope, id, name, noCache }, ins, { cmdSet, mounts });
      ctx.events({ type: 'step.done', id, durationMs: Date.now() - t0 });
    } catch (err) {
      const e = asStepError(err);
      withLocation(e, loc(ins.location));
      ctx.events({ type: 'step.done', id, error: e instanceof Error ? e.message : String(e), durationMs: Date.now() - t0 });
      throw e;
    }
  }
  st.scope = scope.snapshot();
  return st;
}

/** What the stage loop knows beside the instruction: whether CMD was set so far, and RUN's expanded mounts. */
interface DispatchExtras {
  readonly cmdSet: boolean;
  readonly mounts: readonly RunMount[];
}

/** Runs one expanded instruction: a step for WORKDIR, RUN, COPY and ADD; a config change for the rest. */
async function dispatch(call: StepCall, ins: Instruction, x: DispatchExtras): Promise<void> {
  switch (ins.kind) {
    case 'from':
      throw new BuildError('unexpected FROM inside a stage', { hint: 'this is a bug in tsbuild' });
    case 'workdir':
      return workdirStep(call, ins);
    case 'run':
      return runStep(call, ins, x.mounts);
    case 'copy':
    case 'add':
      return copyStep(call, ins);
    default:
      applyMetadata(call.state.config, ins, { time: call.state.time, cmdSet: x.cmdSet });
  }
}

/** The instruction as the progress shows it: whitespace collapsed, the keyword upper-cased. */
function displayOf(ins: Instruction): string {
  const s = ins.original.replace(/\s+/g, ' ');
  const first = s.split(' ')[0] ?? '';
  return first.toUpperCase() + s.slice(first.length);
}
