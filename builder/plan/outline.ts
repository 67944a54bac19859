/**
 * BuildKit's `frontend.outline` and `frontend.targets` subrequests (dockerfile2llb/outline.go, ListTargets) as pure
 * functions of a parsed Dockerfile: the build args, secrets and SSH sockets a target uses, and the stages a file
 * offers. The result objects have BuildKit's JSON shape (subrequests/outline and targets: field names and order,
 * empty fields left out, `sources` base64), so `JSON.stringify(x, null, 2)` is what buildx prints for
 * `--call=outline,format=json`. Descriptions come from the comment right above an ARG or FROM that starts with the
 * declared name (`# FOO does this` → `does this`).
 *
 * Which args count, as BuildKit decides: the global ARGs a reachable stage's FROM line reads (and, through them,
 * the global ARGs their defaults read), and every ARG a reachable stage declares; a stage ARG without a default
 * and without a build arg that inherits a global one shows the global declaration. Secrets and SSH ids come from
 * `RUN --mount=type=secret|ssh` of the reachable stages, ids expanded. Stages the target does not need are left
 * out. A stage base's ONBUILD triggers count, at the FROM line. Not modelled (no image is read): a base image's
 * `Env` (a stage ARG default reading it expands to empty) and its ONBUILD triggers, nor stages only an ONBUILD
 * trigger reads.
 */
import { posix } from 'node:path';
import {
  expandWord, platformArgs, resolveStageGraph, StageScope, toStages,
  type ArgInstruction, type DockerfileAst, type EscapeToken, type Instruction, type InstructionLocation, type PlatformOptions,
} from '../frontend/index.js';
import { expandRunMounts, stageExpander } from './run-mounts.js';

/** BuildKit's pb.Location: one range per source line of the instruction (lines 1-based; zero fields omitted). */
export interface SourceLocation {
  readonly sourceIndex?: number;
  readonly ranges: readonly { readonly start: { readonly line: number }; readonly end: { readonly line: number } }[];
}

export interface OutlineArg {
  readonly name: string;
  readonly description?: string;
  /** The value the build would use (build arg, else the expanded default); absent when unset. */
  readonly value?: string;
  readonly location?: SourceLocation;
}

/** A secret (`RUN --mount=type=secret`) or SSH socket (`type=ssh`) the target uses; `name` is its id. */
export interface OutlineMount {
  readonly name: string;
  readonly required?: true;
  readonly location?: SourceLocation;
}

/** BuildKit's outline.Outline. */
export interface Outline {
  /** The target stage's name (absent for an unnamed stage). */
  readonly name?: string;
  readonly description?: string;
  /** Sorted by line. */
  readonly args?: readonly OutlineArg[];
  readonly secrets?: readonly OutlineMount[];
  readonly ssh?: readonly OutlineMount[];
  /** The Dockerfile, base64 (BuildKit's `[][]byte`). */
  readonly sources?: readonly string[];
}

/** BuildKit's targets.Target: one stage of the file. */
export interface Target {
  readonly name?: string;
  /** The last stage, built when no target is given. */
  readonly default?: true;
  readonly description?: string;
  /** The FROM image or stage as written (unexpanded). */
  readonly base?: string;
  /** `FROM --platform` as written. */
  readonly platform?: string;
  readonly location?: SourceLocation;
}

/** BuildKit's targets.List. */
export interface TargetList {
  readonly targets: readonly Target[];
  readonly sources: readonly string[];
}

export interface OutlineOptions {
  /** The stage to outline (default: the last). */
  readonly target?: string;
  /** `--build-arg` values; `undefined` means "not given". */
  readonly buildArgs?: Readonly<Record<string, string | undefined>>;
  readonly platform?: PlatformOptions;
  /** The Dockerfile's bytes or text, returned base64 in `sources` (left out when not given). */
  readonly source?: string | Uint8Array;
}

interface ArgInfo {
  readonly name: string;
  readonly value?: string;
  readonly description: string;
  readonly location: InstructionLocation;
  /** Position within its ARG instruction (orders `ARG A B`, which share a line). */
  readonly pos: number;
  /** Global args the default read (global ARGs only). */
  readonly deps: ReadonlySet<string>;
}

interface MountInfo {
  readonly required: boolean;
  readonly location: InstructionLocation;
  readonly pos: number;
}

/** BuildKit's outlineCapture: what one stage records while it is dispatched. */
interface Capture {
  readonly allArgs: Map<string, ArgInfo>;
  readonly usedArgs: Set<string>;
  readonly secrets: Map<string, MountInfo>;
  readonly ssh: Map<string, MountInfo>;
}

function cloneCapture(c: Capture): Capture {
  return { allArgs: new Map(c.allArgs), usedArgs: new Set(c.usedArgs), secrets: new Map(c.secrets), ssh: new Map(c.ssh) };
}

/** BuildKit's getDocComment: the first comment line starting with `name ` gives the rest. */
export function docComment(comments: readonly string[] | undefined, name: string | undefined): string {
  if (!name) return '';
  for (const c of comments ?? []) if (c.startsWith(`${name} `)) return c.slice(name.length + 1);
  return '';
}

function toLocation(loc: InstructionLocation): SourceLocation {
  const ranges = [];
  for (let l = loc.line; l <= Math.max(loc.line, loc.endLine); l++) ranges.push({ start: { line: l }, end: { line: l } });
  return { ranges };
}

function toBase64(source: string | Uint8Array): string {
  return (typeof source === 'string' ? Buffer.from(source, 'utf8') : Buffer.from(source)).toString('base64');
}

/** The comments above each instruction, by its first line. */
function commentsByLine(ast: DockerfileAst): Map<number, readonly string[]> {
  const m = new Map<number, readonly string[]>();
  for (const n of ast.children) if (n.comments) m.set(n.line, n.comments);
  return m;
}

/**
 * BuildKit's buildMetaArgs: the global scope (platform args, then each global ARG; a declaration without a value
 * keeps an earlier one) and, per global ARG, its value, description and the global args its default read.
 */
function metaArgInfo(metaArgs: readonly ArgInstruction[], o: OutlineOptions, comments: Map<number, readonly string[]>, esc: EscapeToken) {
  const buildArgs = o.buildArgs ?? {};
  const scope = platformArgs(o.platform);
  for (const k of [...scope.keys()]) {
    const b = buildArgs[k];
    if (b !== undefined) scope.set(k, b);
  }
  const all = new Map<string, ArgInfo>();
  for (const ins of metaArgs) {
    ins.args.forEach((a, pos) => {
      const given = Object.hasOwn(buildArgs, a.key) ? buildArgs[a.key] : undefined;
      let value: string | undefined;
      let deps = new Set<string>();
      if (given !== undefined) value = given;
      else if (a.value !== undefined) {
        const r = expandWord(a.value, scope, { escapeToken: esc });
        value = r.value;
        deps = new Set(r.referenced);
        if (deps.delete(a.key)) for (const d of all.get(a.key)?.deps ?? []) deps.add(d);
      }
      if (value !== undefined) scope.set(a.key, value);
      const description = docComment(comments.get(ins.location.line), a.key);
      all.set(a.key, { name: a.key, ...(value !== undefined ? { value } : {}), description, location: ins.location, pos, deps });
    });
  }
  return { scope, all };
}

/**
 * Returns BuildKit's outline of `ast` for `o.target`: its name and description, the build args it uses (sorted
 * by line, each with its value, description and location), its secrets and SSH sockets. Pure. Throws what a build
 * would throw for the same file and options before running anything (DockerfileError: unknown target, bad stage
 * reference, bad mount, bad expansion).
 */
export function outlineDockerfile(ast: DockerfileAst, o: OutlineOptions = {}): Outline {
  const esc = ast.directives.escape;
  const buildArgs = o.buildArgs ?? {};
  const { stages, metaArgs } = toStages(ast);
  const graph = resolveStageGraph(stages, metaArgs, {
    buildArgs, escapeToken: esc,
    ...(o.target !== undefined ? { target: o.target } : {}), ...(o.platform ? { platform: o.platform } : {}),
  });
  const comments = commentsByLine(ast);
  const meta = metaArgInfo(metaArgs, o, comments, esc);

  // Every stage starts with the global args; FROM <stage> starts from that stage's capture (BuildKit's addState).
  const captures: Capture[] = [];
  for (const s of stages) {
    const base = graph.order.find((r) => r.index === s.index)?.base;
    const c = base?.kind === 'stage' ? cloneCapture(captures[base.index]!)
      : { allArgs: new Map(meta.all), usedArgs: new Set<string>(), secrets: new Map(), ssh: new Map() };
    for (const w of [s.base, s.platform]) {
      if (w !== undefined) for (const k of expandWord(w, meta.scope, { escapeToken: esc }).referenced) c.usedArgs.add(k);
    }
    captures.push(c);
  }

  // Dispatch the needed stages, parents first: ARG declarations and RUN mounts.
  const stageVars = new Map<number, Map<string, string>>();
  for (const r of graph.order) {
    const baseVars = r.base.kind === 'stage' ? stageVars.get(r.base.index) : undefined;
    // A stage base's ONBUILD triggers run first, at the FROM line (as the build runs them).
    const triggers = r.base.kind === 'stage'
      ? stages[r.base.index]!.commands.flatMap((c) => (c.kind === 'onbuild' ? [{ ...c.trigger, location: r.stage.location }] : []))
      : [];
    stageVars.set(r.index, dispatch([...triggers, ...r.stage.commands], captures[r.index]!, {
      metaScope: graph.metaScope, globals: meta.scope, buildArgs, esc, comments,
      ...(baseVars ? { baseEnv: [...baseVars].map(([k, v]) => `${k}=${v}`) } : {}),
    }));
  }

  const deps = new Map<number, number[]>();
  for (const r of graph.order) {
    deps.set(r.index, [...new Set(r.edges.filter((e) => e.via !== 'from').map((e) => e.stage))]);
  }
  const baseOf = (i: number): number | undefined => {
    const b = graph.order.find((r) => r.index === i)?.base;
    return b?.kind === 'stage' ? b.index : undefined;
  };
  /** BuildKit's ds.args/secrets/ssh: the stage's own first, then its base's, then its sources', first name wins. */
  const walk = <T>(i: number, visited: Set<string>, own: (c: Capture) => Iterable<[string, T]>, out: [string, T][]): void => {
    for (const [k, v] of own(captures[i]!)) {
      if (visited.has(k)) continue;
      visited.add(k);
      out.push([k, v]);
    }
    const b = baseOf(i);
    if (b !== undefined) walk(b, visited, own, out);
    for (const d of deps.get(i) ?? []) walk(d, visited, own, out);
  };

  const args: [string, ArgInfo][] = [];
  walk(graph.target, new Set(), (c) => {
    markAllUsed(c);
    return [...c.usedArgs].flatMap((k): [string, ArgInfo][] => {
      const a = c.allArgs.get(k);
      return a ? [[k, a]] : [];
    });
  }, args);
  const secrets: [string, MountInfo][] = [];
  walk(graph.target, new Set(), (c) => c.secrets, secrets);
  const ssh: [string, MountInfo][] = [];
  walk(graph.target, new Set(), (c) => c.ssh, ssh);

  const byLine = <T extends { location: InstructionLocation; pos: number }>(a: [string, T], b: [string, T]): number =>
    a[1].location.line - b[1].location.line || a[1].pos - b[1].pos;
  const target = stages[graph.target]!;
  const description = docComment(comments.get(target.location.line), target.name);
  const mounts = (list: [string, MountInfo][]): OutlineMount[] => list.sort(byLine).map(([name, m]) => ({
    name, ...(m.required ? { required: true as const } : {}), location: toLocation(m.location),
  }));
  const outArgs = args.sort(byLine).map(([, a]): OutlineArg => ({
    name: a.name,
    ...(a.description ? { description: a.description } : {}),
    ...(a.value ? { value: a.value } : {}),
    location: toLocation(a.location),
  }));
  return {
    ...(target.name ? { name: target.name } : {}),
    ...(description ? { description } : {}),
    ...(outArgs.length ? { args: outArgs } : {}),
    ...(secrets.length ? { secrets: mounts(secrets) } : {}),
    ...(ssh.length ? { ssh: mounts(ssh) } : {}),
    ...(o.source !== undefined ? { sources: [toBase64(o.source)] } : {}),
  };
}

/** BuildKit's markAllUsed: the global args a used arg's default read count as used too, transitively. */
function markAllUsed(c: Capture): void {
  const visited = new Set<string>();
  const mark = (keys: Iterable<string>): void => {
    for (const k of [...keys]) {
      if (visited.has(k)) continue;
      visited.add(k);
      const a = c.allArgs.get(k);
      if (a) mark(a.deps);
      c.usedArgs.add(k);
    }
  };
  mark(c.usedArgs);
}

interface DispatchOptions {
  readonly metaScope: ReadonlyMap<string, string>;
  /** BuildKit's globalArgs (a global ARG without a value keeps an earlier one). */
  readonly globals: ReadonlyMap<string, string>;
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  readonly esc: EscapeToken;
  readonly comments: Map<number, readonly string[]>;
  readonly baseEnv?: readonly string[];
}

/** Records a stage's ARG declarations and secret/SSH mounts in `c`; returns the stage's variables at its end. */
function dispatch(commands: readonly Instruction[], c: Capture, o: DispatchOptions): Map<string, string> {
  const scope = new StageScope({
    metaScope: o.metaScope, buildArgs: o.buildArgs, escapeToken: o.esc, ...(o.baseEnv ? { baseEnv: o.baseEnv } : {}),
  });
  for (const ins of commands) {
    if (ins.kind === 'run') {
      expandRunMounts(ins, stageExpander(scope.vars(), o.esc)).forEach((m, pos) => {
        if (m.type === 'secret') {
          const id = m.id ?? m.source ?? (m.target ? posix.basename(m.target) : '');
          if (!c.secrets.has(id)) c.secrets.set(id, { required: m.required, location: ins.location, pos });
        } else if (m.type === 'ssh') {
          const id = m.id || 'default';
          if (!c.ssh.has(id)) c.ssh.set(id, { required: m.required, location: ins.location, pos });
        }
      });
    }
    const applied = scope.apply(ins);
    if (ins.kind !== 'arg' || applied.kind !== 'arg') continue;
    ins.args.forEach((a, pos) => {
      const key = applied.args[pos]!.key;
      const value = applied.args[pos]!.value;
      const given = Object.hasOwn(o.buildArgs, key) ? o.buildArgs[key] : undefined;
      // An ARG that only inherits a global value keeps the global declaration (BuildKit's skipArgInfo).
      if (a.value !== undefined || given !== undefined || !o.globals.has(key)) {
        const description = docComment(o.comments.get(ins.location.line), a.key);
        c.allArgs.set(key, { name: a.key, ...(value !== undefined ? { value } : {}), description, location: ins.location, pos, deps: new Set() });
      }
      c.usedArgs.add(key);
    });
  }
  return scope.vars();
}

/** Returns BuildKit's targets list of `ast`: every stage in file order, the last one marked default. Pure. */
export function listTargets(ast: DockerfileAst, o: { source?: string | Uint8Array } = {}): TargetList {
  const { stages } = toStages(ast);
  const comments = commentsByLine(ast);
  const targets = stages.map((s, i): Target => {
    const description = docComment(comments.get(s.location.line), s.name);
    return {
      ...(s.name ? { name: s.name } : {}),
      ...(i === stages.length - 1 ? { default: true as const } : {}),
      ...(description ? { description } : {}),
      ...(s.base ? { base: s.base } : {}),
      ...(s.platform ? { platform: s.platform } : {}),
      location: toLocation(s.location),
    };
  });
  return { targets, sources: o.source !== undefined ? [toBase64(o.source)] : [] };
}
