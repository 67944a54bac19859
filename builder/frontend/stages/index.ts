/**
 * Stages (BuildKit's instructions.Parse + the stage/arg logic of dockerfile2llb/convert.go):
 * typed instructions grouped under their FROM, global (meta) ARGs, the dependency graph a target needs,
 * and the ARG/ENV scope used to expand each instruction.
 */
import { formatPlatform, hostPlatform, type Platform } from '../../../layer-store/core/index.js';
import type { DockerfileAst, EscapeToken, InstructionNode } from '../parser/index.js';
import { DockerfileError, suggest } from '../errors.js';
import {
  expandInstruction, parseInstruction,
  type ArgInstruction, type FromInstruction, type Instruction, type InstructionLocation,
} from '../instructions/index.js';
import { expandWord, type ShellEnv } from '../shell/index.js';

export interface Stage {
  /** `AS name`, lower-cased; undefined for an unnamed stage. */
  readonly name?: string;
  /** 0-based position in the file (what `COPY --from=0` refers to). */
  readonly index: number;
  /** The base image expression as written (`FROM ${BASE:-alpine}`). */
  readonly base: string;
  /** `FROM --platform=` as written. */
  readonly platform?: string;
  readonly from: FromInstruction;
  /** The instructions after FROM, in order. */
  readonly commands: readonly Instruction[];
  /** The FROM line. */
  readonly location: InstructionLocation;
}

export interface StagesResult {
  readonly stages: Stage[];
  /** ARGs before the first FROM: usable in FROM lines, and in a stage only when redeclared there. */
  readonly metaArgs: ArgInstruction[];
}

/**
 * Groups parse-tree nodes into stages. Throws DockerfileError with file:line for bad instructions,
 * instructions before the first FROM (other than ARG), and duplicate stage names.
 */
export function toStages(input: readonly InstructionNode[] | DockerfileAst, file?: string): StagesResult {
  const nodes = isAst(input) ? input.children : input;
  const fileName = file ?? (isAst(input) ? input.file : 'Dockerfile');
  const stages: Stage[] = [];
  const metaArgs: ArgInstruction[] = [];
  let current: { from: FromInstruction; commands: Instruction[] } | undefined;
  const flush = (): void => {
    if (current === undefined) return;
    const f = current.from;
    stages.push({
      ...(f.stageName !== undefined ? { name: f.stageName } : {}),
      index: stages.length, base: f.image,
      ...(f.platform !== undefined ? { platform: f.platform } : {}),
      from: f, commands: current.commands, location: f.location,
    });
  };
  const byName = new Map<string, Stage | FromInstruction>();
  for (const n of nodes) {
    const ins = parseInstruction(n, fileName);
    if (ins.kind === 'from') {
      flush();
      if (ins.stageName !== undefined) {
        const prev = byName.get(ins.stageName);
        if (prev !== undefined) {
          throw new DockerfileError('DOCKERFILE_STAGE', `duplicate stage name ${JSON.stringify(ins.stageName)}`, {
            hint: `stage names must be unique; "${ins.stageName}" is already defined on line ${prev.location.line}`,
            location: ins.location,
          });
        }
        byName.set(ins.stageName, ins);
      }
      current = { from: ins, commands: [] };
      continue;
    }
    if (current === undefined) {
      if (ins.kind === 'arg') {
        metaArgs.push(ins);
        continue;
      }
      throw new DockerfileError('DOCKERFILE_STAGE', `no build stage in current context: ${ins.kind.toUpperCase()} before the first FROM`, {
        hint: 'start the Dockerfile with FROM (only ARG may come before the first FROM)',
        location: ins.location,
      });
    }
    current.commands.push(ins);
  }
  flush();
  if (stages.length === 0) {
    const last = nodes[nodes.length - 1];
    throw new DockerfileError('DOCKERFILE_STAGE', 'the Dockerfile has no FROM instruction', {
      hint: 'add FROM <image> (or FROM scratch)',
      location: { file: fileName, line: last?.line ?? 1 },
    });
  }
  return { stages, metaArgs };
}

function isAst(x: readonly InstructionNode[] | DockerfileAst): x is DockerfileAst {
  return !Array.isArray(x);
}

// ---------------------------------------------------------------------------------------------------------
// Args: predefined platform args, proxy args, meta args

/** Platform args BuildKit defines in the global scope (usable in FROM; redeclare with ARG to use in a stage). */
export const PLATFORM_ARGS = ['TARGETPLATFORM', 'TARGETOS', 'TARGETARCH', 'TARGETVARIANT', 'BUILDPLATFORM', 'BUILDOS', 'BUILDARCH', 'BUILDVARIANT'] as const;

/** Proxy args: accepted as --build-arg without an ARG, passed to RUN, never written to history or cache keys. */
export const PROXY_ARGS: readonly string[] = ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY']
  .flatMap((n) => [n, n.toLowerCase()]);

/** True for a build arg that needs no ARG declaration (platform, proxy, BUILDKIT_*). */
export function isPredefinedArg(name: string): boolean {
  return (PLATFORM_ARGS as readonly string[]).includes(name) || PROXY_ARGS.includes(name) || name.startsWith('BUILDKIT_');
}

export interface PlatformOptions {
  /** The platform being built for (default: the build platform). */
  readonly target?: Platform;
  /** The platform the build runs on (default: this machine). */
  readonly build?: Platform;
}

/** The values of the predefined platform args. */
export function platformArgs(p: PlatformOptions = {}): Map<string, string> {
  const build = p.build ?? hostPlatform();
  const target = p.target ?? build;
  return new Map([
    ['TARGETPLATFORM', formatPlatform(target)], ['TARGETOS', target.os], ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['BUILDPLATFORM', formatPlatform(build)], ['BUILDOS', build.os], ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
  ]);
}

export interface ResolveOptions {
  /** The stage to build (name, case-insensitive); default: the last stage. */
  readonly target?: string;
  /** `--build-arg` values; `undefined` means "not given" (the CLI resolves `--build-arg NAME` from its env). */
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  readonly platform?: PlatformOptions;
  readonly escapeToken?: EscapeToken;
}

/**
 * The global scope: platform args (overridable by build args), then each meta ARG in order, its default
 * expanded with what came before and replaced by a build arg when one is given. A meta ARG with neither a
 * default nor a build arg is declared but unset.
 */
export function resolveMetaArgs(metaArgs: readonly ArgInstruction[], o: ResolveOptions): Map<string, string> {
  const scope = platformArgs(o.platform);
  for (const k of [...scope.keys()]) {
    const b = Object.hasOwn(o.buildArgs, k) ? o.buildArgs[k] : undefined;
    if (b !== undefined) scope.set(k, b);
  }
  for (const ins of metaArgs) {
    for (const a of ins.args) {
      const b = Object.hasOwn(o.buildArgs, a.key) ? o.buildArgs[a.key] : undefined;
      if (b !== undefined) scope.set(a.key, b);
      else if (a.value !== undefined) scope.set(a.key, expandAt(a.value, scope, ins.location, o.escapeToken).value);
      else scope.delete(a.key);
    }
  }
  return scope;
}

function expandAt(word: string, env: ShellEnv, loc: InstructionLocation, escapeToken?: EscapeToken) {
  try {
    return expandWord(word, env, escapeToken !== undefined ? { escapeToken } : {});
  } catch (e) {
    if (e instanceof DockerfileError && e.location === undefined) e.location = loc;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------
// The stage graph

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
 * name (or, for COPY, by index) and otherwise to an image, as in BuildKit. Throws DockerfileError
 * DOCKERFILE_STAGE for an unknown target, a bad stage index, a reference that is neither a stage nor a valid
 * image name, and dependency cycles.
 */
export function resolveStageGraph(stages: readonly Stage[], metaArgs: readonly ArgInstruction[], o: ResolveOptions): StageGraph {
  const metaScope = resolveMetaArgs(metaArgs, o);
  const names = new Map<string, number>();
  stages.forEach((s) => { if (s.name !== undefined) names.set(s.name, s.index); });
  const stageNames = [...names.keys()];
  const esc = o.escapeToken;

  const resolved: Omit<ResolvedStage, 'level'>[] = stages.map((s) => {
    const baseName = expandAt(s.base, metaScope, s.location, esc).value;
    if (baseName === '') {
      throw new DockerfileError('DOCKERFILE_STAGE', `base name (${s.base}) should not be blank`, {
        hint: 'give the FROM image a value (check the ARG it uses, or pass --build-arg)', location: s.location });
    }
    let base: StageBase;
    const earlier = names.get(baseName.toLowerCase());
    if (earlier !== undefined && earlier < s.index) base = { kind: 'stage', index: earlier };
    else if (baseName === 'scratch') base = { kind: 'scratch' };
    else {
      checkImageRef(baseName, s.location, stageNames, 'FROM');
      base = { kind: 'image', ref: baseName };
    }
    const platform = s.platform !== undefined ? expandAt(s.platform, metaScope, s.location, esc).value : undefined;
    const edges: StageEdge[] = [];
    if (base.kind === 'stage') edges.push({ via: 'from', stage: base.index, location: s.location });
    const images: ImageUse[] = [];
    for (const c of s.commands) {
      if (c.kind === 'copy' && c.from !== undefined && c.from !== '') {
        const ref = c.from;
        if (/^[+-]?\d+$/.test(ref)) {
          const i = Number(ref);
          if (i < 0 || i >= stages.length) {
            throw new DockerfileError('DOCKERFILE_STAGE', `invalid stage index ${i}`, {
              hint: `COPY --from=<index> counts FROM lines from 0; this file has stages 0 to ${stages.length - 1}`, location: c.location });
          }
          edges.push({ via: 'copy', stage: i, location: c.location });
          continue;
        }
        const named = names.get(ref.toLowerCase());
        if (named !== undefined) {
          edges.push({ via: 'copy', stage: named, location: c.location });
          continue;
        }
        const img = expandAt(ref, metaScope, c.location, esc).value;
        checkImageRef(img, c.location, stageNames, 'COPY --from');
        images.push({ via: 'copy', ref: img, location: c.location });
      } else if (c.kind === 'run') {
        for (const m of c.mounts) {
          if (m.from === undefined || m.from === '') continue;
          const named = names.get(m.from.toLowerCase());
          if (named !== undefined) {
            edges.push({ via: 'mount', stage: named, location: c.location });
            continue;
          }
          checkImageRef(m.from, c.location, stageNames, 'RUN --mount from');
          images.push({ via: 'mount', ref: m.from, location: c.location });
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
      throw new DockerfileError('DOCKERFILE_STAGE', `target stage ${JSON.stringify(o.target)} could not be found`, {
        hint: s !== undefined ? `did you mean "${s}"?` : stageNames.length > 0 ? `stages: ${stageNames.join(', ')}` : 'this Dockerfile has no named stages (use FROM image AS name)',
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

const REF_RE = new RegExp(
  '^(?:(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?/)?' +
  '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*' +
  '(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$');

/** True when `s` is a valid image reference (docker/distribution reference grammar). */
export function isImageReference(s: string): boolean {
  return s.length <= 255 + 200 && REF_RE.test(s);
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

// ---------------------------------------------------------------------------------------------------------
// The ARG/ENV scope of a stage

export interface ScopeOptions {
  /** The global args (StageGraph.metaScope). */
  readonly metaScope: ReadonlyMap<string, string>;
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  /** The base image's `Env` (`NAME=value`), or the parent stage's env for FROM <stage>. */
  readonly baseEnv?: readonly string[];
  readonly escapeToken?: EscapeToken;
}

/**
 * The variables a stage sees while it is dispatched, as BuildKit keeps them: one ordered env where ENV and
 * ARG values are set in file order (the later one wins, so `ARG X` then `ENV X=v` gives v), starting from the
 * base image's `Env`. Meta args are visible only after `ARG NAME` redeclares them. The image config `Env`
 * gets ENV values only. `apply` expands one instruction with the current scope and then applies its effect.
 */
export class StageScope {
  readonly #vars = new Map<string, string>();
  readonly #imageEnv = new Map<string, string>();
  readonly #declared: { key: string; value?: string }[] = [];
  readonly #o: ScopeOptions;
  readonly usedBuildArgs = new Set<string>();

  constructor(o: ScopeOptions) {
    this.#o = o;
    for (const kv of o.baseEnv ?? []) {
      const i = kv.indexOf('=');
      const k = i < 0 ? kv : kv.slice(0, i);
      const v = i < 0 ? '' : kv.slice(i + 1);
      this.#vars.set(k, v);
      this.#imageEnv.set(k, v);
    }
  }

  /** What `$NAME` expands to right now (base env, then ENV and ARG values in file order). */
  vars(): Map<string, string> {
    return new Map(this.#vars);
  }
  /** ARG names declared in this stage so far (with or without a value). */
  declared(): Set<string> {
    return new Set(this.#declared.map((d) => d.key));
  }
  /** The image config `Env`: the base image's plus ENV instructions (never ARGs). */
  imageEnv(): Map<string, string> {
    return new Map(this.#imageEnv);
  }
  /**
   * The environment of a RUN: `vars()` plus, unless `includeProxy` is false, the proxy build args
   * (HTTP_PROXY & co.), which need no ARG and must stay out of history and cache keys.
   */
  runEnv(o: { includeProxy?: boolean } = {}): Map<string, string> {
    const m = new Map<string, string>();
    if (o.includeProxy !== false) {
      for (const [k, v] of Object.entries(this.#o.buildArgs)) if (v !== undefined && PROXY_ARGS.includes(k)) m.set(k, v);
    }
    for (const [k, v] of this.#vars) m.set(k, v);
    return m;
  }
  /**
   * The `NAME=value` pairs BuildKit prefixes to RUN history (`|N a=1 b=2 sh -c ...`): every ARG declared in
   * the stage, in declaration order (a redeclared name keeps its first position), valued from the current env.
   * Undeclared proxy build args never appear.
   */
  historyArgs(): [string, string][] {
    const out: [string, string][] = [];
    const idx = new Map<string, number>();
    for (const d of this.#declared) {
      const v = this.#vars.get(d.key) ?? d.value ?? '';
      const at = idx.get(d.key);
      if (at !== undefined) out[at] = [d.key, v];
      else {
        idx.set(d.key, out.length);
        out.push([d.key, v]);
      }
    }
    return out;
  }

  /** Expands `ins` with the current scope and applies its effect on the scope (ENV sets, ARG declares). */
  apply<T extends Instruction>(ins: T): T {
    const esc = this.#o.escapeToken;
    const lex = esc !== undefined ? { escapeToken: esc } : {};
    if (ins.kind === 'arg') {
      // each declaration sees the ones before it
      const out: { key: string; value?: string }[] = [];
      for (const a of ins.args) {
        const key = withLocation(() => expandWord(a.key, this.#vars, lex).value, ins.location);
        const given = Object.hasOwn(this.#o.buildArgs, key) ? this.#o.buildArgs[key] : undefined;
        let value: string | undefined;
        if (given !== undefined) {
          value = given;
          this.usedBuildArgs.add(key);
        } else if (a.value !== undefined) {
          value = withLocation(() => expandWord(a.value!, this.#vars, lex).value, ins.location);
        } else if (this.#o.metaScope.has(key)) {
          value = this.#o.metaScope.get(key);
        }
        if (value !== undefined) this.#vars.set(key, value);
        const d = value !== undefined ? { key, value } : { key };
        this.#declared.push(d);
        out.push(d);
      }
      return { ...ins, args: out };
    }
    const vars = this.vars();
    const expanded = expandInstruction(ins, {
      word: (w) => expandWord(w, vars, lex).value,
      words: (w) => [...expandWord(w, vars, lex).words],
    });
    if (expanded.kind === 'env') {
      for (const p of expanded.pairs) {
        this.#vars.set(p.key, p.value);
        this.#imageEnv.set(p.key, p.value);
      }
    }
    return expanded;
  }
}

function withLocation<R>(f: () => R, loc: InstructionLocation): R {
  try {
    return f();
  } catch (e) {
    if (e instanceof DockerfileError && e.location === undefined) e.location = loc;
    throw e;
  }
}

/**
 * The scope of `stage` before its command number `upTo` (default: after all commands), starting from
 * `baseEnv`. Convenience over StageScope for lint and tests.
 */
export function stageScope(stage: Stage, o: ScopeOptions, upTo = stage.commands.length): StageScope {
  const scope = new StageScope(o);
  for (const c of stage.commands.slice(0, upTo)) scope.apply(c);
  return scope;
}
