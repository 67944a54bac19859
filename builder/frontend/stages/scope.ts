/** The ARG/ENV scope of a stage while it is dispatched (BuildKit's dispatch state of args and env). */
import type { EscapeToken } from '../parser/index.js';
import { DockerfileError } from '../errors.js';
import { expandInstruction, type Instruction, type InstructionLocation } from '../instructions/index.js';
import { expandWord } from '../shell/index.js';
import { proxyEnv } from './args.js';
import type { Stage } from './stages.js';


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
   * The environment of a RUN: `vars()` plus, unless `includeProxy` is false, the proxy build args in both
   * spellings (args.ts proxyEnv), which need no ARG and must stay out of history and cache keys. As in BuildKit,
   * where they are appended to the step's env and the last value wins, they override an ENV or ARG of the same name.
   */
  runEnv(o: { includeProxy?: boolean } = {}): Map<string, string> {
    const m = new Map(this.#vars);
    if (o.includeProxy !== false) for (const [k, v] of proxyEnv(this.#o.buildArgs)) m.set(k, v);
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
