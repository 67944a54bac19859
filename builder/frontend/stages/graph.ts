/** The stage graph: FROM lines resolved with the global args, the target, and the stages it needs in order. */
import { DockerfileError, suggest } from '../errors.js';
import type { ArgInstruction, InstructionLocation } from '../instructions/index.js';
import type { EscapeToken } from '../parser/index.js';
import { expandAt, isPredefinedArg, resolveMetaArgs, type ResolveOptions } from './args.js';
import type { Stage } from './stages.js';
import { copyFromContext, namedContextFor, type NamedContextUse } from './named.js';


export type StageBase =
  | { readonly kind: 'scratch' }
  | { readonly kind: 'stage'; readonly index: number }
  | { readonly kind: 'image'; readonly ref: string };

export interface StageEdge {
  /** How the dependency arises. */
  readonly via: 'from' | 'copy' | 'mount';
  /** The stage depended on. */
  readonly stage: number;
  readonly location: InstructionLocation;
}

export interface ImageUse {
  readonly via: 'copy' | 'mount';
  /** The image reference, expanded with the global args. */
  readonly ref: string;
  readonly location: InstructionLocation;
}

export interface ResolvedStage {
  readonly stage: Stage;
  readonly index: number;
  /** The stage's display name: its `AS` name, or `stage-N`. */
  readonly displayName: string;
  /** The base after expanding FROM with the global args. */
  readonly base: StageBase;
  /** The FROM platform after expansion, when given. */
  readonly platform?: string;
  /** Every stage this one needs (from its base, `COPY --from`, `RUN --mount=from=`), without duplicates. */
  readonly dependsOn: readonly number[];
  readonly edges: readonly StageEdge[];
  /** Images read by `COPY --from=<image>` or `RUN --mount=from=<image>`. */
  readonly images: readonly ImageUse[];
  /** Longest dependency chain below this stage: stages with the same level can run in parallel. */
  readonly level: number;
}

export interface StageGraph {
  /** The target stage's index. */
  readonly target: number;
  /** Only the stages the target needs, dependencies first (ties in file order). */
  readonly order: readonly ResolvedStage[];
  /** `order` grouped by level: every group may run in parallel once the previous groups are done. */
  readonly waves: readonly (readonly number[])[];
  /** The global args (predefined platform args + meta ARGs) used for FROM lines. */
  readonly metaScope: ReadonlyMap<string, string>;
  /** Build args no needed stage declares (BuildKit warns about these); predefined args are never listed. */
  readonly unusedBuildArgs: readonly string[];
}

/**
 * Resolves FROM lines with the global args, finds the target, and returns the stages it needs in dependency
 * order. FROM <name> refers to an earlier stage; `COPY --from` and `RUN --mount=from=` refer to any stage by
 * name (or, for COPY, by index) and otherwise to an image, as in BuildKit, also in the ONBUILD triggers a stage
 * inherits from the stage it is FROM (an image's triggers are known only when it is loaded). Throws DockerfileError
 * DOCKERFILE_STAGE for an unknown target, a bad stage index, a reference that is neither a stage nor a valid
 * image name, and dependency cycles.
 */
export function resolveStageGraph(stages: readonly Stage[], metaArgs: readonly ArgInstruction[], o: ResolveOptions): StageGraph {
  // TARGETSTAGE: --target as given, else the last stage's name (BuildKit's toDispatchState).
  const metaScope = resolveMetaArgs(metaArgs, { ...o, targetStage: o.target || stages[stages.length - 1]?.name || '' });
  const names = new Map<string, number>();
  stages.forEach((s) => { if (s.name !== undefined) names.set(s.name, s.index); });
  const stageNames = [...names.keys()];
  const esc = o.escapeToken;
  const forward: { stage: Stage; from: string; location: InstructionLocation }[] = [];

  const resolved: Omit<ResolvedStage, 'level'>[] = stages.map((written) => {
    let s = written;
    const baseName = expandAt(s.base, metaScope, s.location, esc).value;
    if (baseName === '') {
      throw new DockerfileError('DOCKERFILE_STAGE', `base name (${s.base}) should not be blank`, {
        hint: 'give the FROM image a value (check the ARG it uses, or pass --build-arg)', location: s.location });
    }
    let base: StageBase;
    // A named context of the stage's own name replaces the whole stage; one of the base's name, the base.
    const replacing = s.name !== undefined ? namedContextFor(o.namedContexts, s.name) : undefined;
    // FROM NAME is the latest stage of that name above this one (BuildKit adds states in order; a later stage of
    // the same name takes the name only from then on).
    const earlier = stages.filter((x) => x.index < s.index && x.name === baseName.toLowerCase()).at(-1)?.index;
    const named = replacing ?? (earlier !== undefined && earlier < s.index ? undefined : namedContextFor(o.namedContexts, baseName));
    if (named) {
      base = contextBase(named, names, s);
      const fill = named.kind === 'dir' ? [copyFromContext(replacing ? s.name! : baseName, s.location)] : [];
      s = { ...s, commands: replacing ? fill : [...fill, ...s.commands] };
    } else if (earlier !== undefined && earlier < s.index) base = { kind: 'stage', index: earlier };
    else if (baseName === 'scratch') base = { kind: 'scratch' };
    else {
      checkImageRef(baseName, s.location, stageNames, 'FROM');
      base = { kind: 'image', ref: baseName };
    }
    const platform = s.platform !== undefined ? expandAt(s.platform, metaScope, s.location, esc).value : undefined;
    const edges: StageEdge[] = [];
    if (base.kind === 'stage') edges.push({ via: 'from', stage: base.index, location: s.location });
    const images: ImageUse[] = [];
    // The stage's own instructions, then the ONBUILD triggers of a stage it is FROM, which run in it (stage.ts)
    // and may read other stages (BuildKit's initOnBuildTriggers); those report the FROM line, as BuildKit does.
    const triggers = base.kind === 'stage' ? stages[base.index]!.commands.flatMap((c) => (c.kind === 'onbuild' ? [c.trigger] : [])) : [];
    const scanned = [...s.commands.map((c) => ({ c, at: c.location })), ...triggers.map((c) => ({ c, at: s.location }))];
    for (const { c, at } of scanned) {
      if (c.kind === 'copy' && c.from !== undefined && c.from !== '') {
        const ref = c.from;
        noExpansionInFrom(ref, at, esc);
        if (/^[+-]?\d+$/.test(ref)) {
          const i = Number(ref);
          if (i < 0 || i >= stages.length) {
            throw new DockerfileError('DOCKERFILE_STAGE', `invalid stage index ${i}`, {
              hint: `COPY --from=<index> counts FROM lines from 0; this file has stages 0 to ${stages.length - 1}`, location: at });
          }
          if (i > s.index) forward.push({ stage: s, from: ref, location: at });
          edges.push({ via: 'copy', stage: i, location: at });
          continue;
        }
        const use = namedContextFor(o.namedContexts, ref);
        if (use) {
          // A directory is read by the step itself; an image or a stage is a dependency like any other.
          if (use.kind === 'image') images.push({ via: 'copy', ref: use.ref, location: c.location });
          if (use.kind === 'stage') edges.push({ via: 'copy', stage: contextStage(use, names, c.location), location: c.location });
          continue;
        }
        const named = names.get(ref.toLowerCase());
        if (named !== undefined) {
          if (named > s.index) forward.push({ stage: s, from: ref, location: at });
          edges.push({ via: 'copy', stage: named, location: at });
          continue;
        }
        checkImageRef(ref, at, stageNames, 'COPY --from');
        images.push({ via: 'copy', ref, location: at });
      } else if (c.kind === 'run') {
        for (const m of c.mounts) {
          if (m.from === undefined || m.from === '') continue;
          const use = namedContextFor(o.namedContexts, m.from);
          if (use) {
            if (use.kind === 'image') images.push({ via: 'mount', ref: use.ref, location: c.location });
            if (use.kind === 'stage') edges.push({ via: 'mount', stage: contextStage(use, names, c.location), location: c.location });
            continue;
          }
          const named = names.get(m.from.toLowerCase());
          if (named !== undefined) {
            edges.push({ via: 'mount', stage: named, location: at });
            continue;
          }
          checkImageRef(m.from, at, stageNames, 'RUN --mount from');
          images.push({ via: 'mount', ref: m.from, location: at });
        }
      }
    }
    const dependsOn = [...new Set(edges.map((e) => e.stage))];
    return {
      stage: s, index: s.index, displayName: s.name ?? `stage-${s.index}`, base,
      ...(platform !== undefined ? { platform } : {}), dependsOn, edges, images,
    };
  });

  detectCycles(resolved);

  let target: number;
  if (o.target === undefined || o.target === '') target = stages.length - 1;
  else {
    const t = names.get(o.target.toLowerCase());
    if (t === undefined) {
      const s = suggest(o.target, stageNames);
      const first = stages[0]!;
      // BuildKit's words, its suggestion inside the message (util/suggest): `… could not be found (did you mean build?)`.
      throw new DockerfileError('DOCKERFILE_STAGE', `target stage ${JSON.stringify(o.target)} could not be found${s !== undefined ? ` (did you mean ${s}?)` : ''}`, {
        hint: stageNames.length > 0 ? `stages: ${stageNames.join(', ')}` : 'this Dockerfile has no named stages (use FROM image AS name)',
        location: { file: first.location.file, line: first.location.line },
      });
    }
    target = t;
  }

  // Stages the target needs, and their levels.
  const levels = new Map<number, number>();
  const levelOf = (i: number): number => {
    const known = levels.get(i);
    if (known !== undefined) return known;
    const deps = resolved[i]!.dependsOn;
    const l = deps.length === 0 ? 0 : 1 + Math.max(...deps.map(levelOf));
    levels.set(i, l);
    return l;
  };
  levelOf(target);
  const order = [...levels.keys()]
    .sort((a, b) => levels.get(a)! - levels.get(b)! || a - b)
    .map((i) => ({ ...resolved[i]!, level: levels.get(i)! }));
  laterStages(forward.filter((f) => levels.has(f.stage.index)));
  const waves: number[][] = [];
  for (const r of order) (waves[r.level] ??= []).push(r.index);

  const declared = new Set<string>(metaArgs.flatMap((m) => m.args.map((a) => a.key)));
  for (const r of order) for (const c of r.stage.commands) if (c.kind === 'arg') for (const a of c.args) declared.add(a.key);
  const unusedBuildArgs = Object.keys(o.buildArgs)
    .filter((k) => o.buildArgs[k] !== undefined && !declared.has(k) && !isPredefinedArg(k))
    .sort();

  return { target, order, waves, metaScope, unusedBuildArgs };
}

function detectCycles(resolved: readonly Omit<ResolvedStage, 'level'>[]): void {
  const state = new Map<number, 'visiting' | 'done'>();
  const visit = (i: number, path: { from: number; edge: StageEdge }[]): void => {
    state.set(i, 'visiting');
    for (const e of resolved[i]!.edges) {
      const st = state.get(e.stage);
      if (st === 'done') continue;
      const step = [...path, { from: i, edge: e }];
      if (st === 'visiting') {
        const cycle = step.slice(step.findIndex((p) => p.from === e.stage));
        const r = resolved[e.stage]!;
        const first = cycle[0]!.edge;
        const hint = e.stage === i
          ? `stage ${r.displayName} uses itself (line ${e.location.line}); a stage can only read from other stages`
          : `stages depend on each other in a loop (lines ${cycle.map((p) => p.edge.location.line).join(', ')}); break the loop`;
        throw new DockerfileError('DOCKERFILE_STAGE', `circular dependency detected on stage: ${r.displayName}`, {
          hint, location: first.location,
        });
      }
      visit(e.stage, step);
    }
    state.set(i, 'done');
  };
  for (const r of resolved) if (!state.has(r.index)) visit(r.index, []);
}

/**
 * BuildKit expands `COPY --from` with no variables at all and rejects the word when that changes it (a variable,
 * quotes or escapes), with its own words (dockerfile2llb toCommand).
 */
export function noExpansionInFrom(from: string, loc: InstructionLocation, escapeToken?: EscapeToken): void {
  if (expandAt(from, new Map(), loc, escapeToken).value === from) return;
  throw new DockerfileError('DOCKERFILE_STAGE', 'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround', {
    hint: `ARG NAME=image before the first FROM, then FROM \${NAME} AS src, and COPY --from=src (got --from=${from})`, location: loc });
}

const REF_RE = new RegExp(
  '^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?/)?' +
  '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*' +
  '(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$');

/** True when `s` is a valid image reference (docker/distribution reference grammar). */
export function isImageReference(s: string): boolean {
  return s.length <= 255 + 200 && REF_RE.test(s);
}

/** The base a named context gives a stage: its image, the stage it names, or scratch (a directory is copied in). */
function contextBase(use: NamedContextUse, names: ReadonlyMap<string, number>, s: Stage): StageBase {
  if (use.kind === 'stage') {
    const index = contextStage(use, names, s.location);
    if (index === s.index) {
      throw new DockerfileError('DOCKERFILE_STAGE', `named context target:${use.name} replaces stage ${use.name} with itself`, {
        hint: 'point the build context at another stage, an image or a directory', location: s.location });
    }
    return { kind: 'stage', index };
  }
  if (use.kind === 'image' && use.ref !== 'scratch') return { kind: 'image', ref: use.ref };
  return { kind: 'scratch' };
}

/** The index of the stage a `target:STAGE` named context names. */
function contextStage(use: { readonly name: string }, names: ReadonlyMap<string, number>, location: InstructionLocation): number {
  const i = names.get(use.name.toLowerCase());
  if (i === undefined) {
    throw new DockerfileError('DOCKERFILE_STAGE', `named context target:${use.name}: no stage ${use.name} in this Dockerfile`, {
      hint: `stages are ${[...names.keys()].join(', ') || '(none named)'}`, location });
  }
  return i;
}

function checkImageRef(ref: string, loc: InstructionLocation, stageNames: readonly string[], what: string): void {
  if (isImageReference(ref)) return;
  const s = suggest(ref, stageNames);
  throw new DockerfileError('DOCKERFILE_STAGE', `${what} ${JSON.stringify(ref)} is neither a stage nor a valid image reference`, {
    hint: s !== undefined ? `did you mean the stage "${s}"?` : stageNames.length > 0
      ? `stages are ${stageNames.join(', ')}; images look like name[:tag][@digest] in lower case`
      : 'images look like name[:tag][@digest] in lower case',
    location: loc,
  });
}

/**
 * BuildKit dispatches the needed stages in file order (after its cycle check), so `COPY --from` may name only a
 * stage defined above the current one; a later one fails with BuildKit's words, at the first such line.
 */
function laterStages(forward: readonly { stage: Stage; from: string; location: InstructionLocation }[]): void {
  const f = [...forward].sort((a, b) => a.location.line - b.location.line)[0];
  if (!f) return;
  throw new DockerfileError('DOCKERFILE_STAGE', `cannot copy from stage ${JSON.stringify(f.from)}, it needs to be defined before current stage ${JSON.stringify(f.stage.name ?? `stage-${f.stage.index}`)}`, {
    hint: 'move that stage above this one in the Dockerfile', location: f.location });
}
