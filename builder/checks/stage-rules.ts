/**
 * Rules BuildKit runs while it dispatches a stage, so only on the stages a build needs (every stage for a
 * check without a target): UndefinedVar, LegacyKeyValueFormat, SecretsUsedInArgOrEnv, JSONArgsRecommended,
 * MultipleInstructionsDisallowed, WorkdirRelativePath, CopyIgnoredFile, ExposeProtoCasing, ExposeInvalidFormat.
 * Each stage is walked with the variables it would have (base image env, ENV, ARG), as dispatch does.
 */
import type { ContextMatcher } from '../context/index.js';
import { expandInstruction, supportsExpansion, type Instruction } from '../frontend/instructions/index.js';
import { expandWord, type LexOptions } from '../frontend/shell/index.js';
import { StageScope } from '../frontend/stages/index.js';
import type { Reporter, Where } from './report.js';
import { FORMAT, RULES } from './rules.js';
import { where, type CheckedCommand, type CheckedStage } from './source-rules.js';
import { searchName } from './suggest.js';

/** What a stage starts from, as far as the rules care. */
export interface StageStart {
  /** The base's `Env` (`NAME=value`); PATH is added when missing. */
  readonly env: readonly string[];
  /** The base's SHELL is set (then shell-form CMD/ENTRYPOINT are fine). */
  readonly shell: boolean;
  /** A WORKDIR was set by a stage this one builds on. */
  readonly workdirSet: boolean;
  /** The base's user ('' for root by default). */
  readonly user: string;
  /** False when the base image's env is unknown (not in the store): UndefinedVar is then not reported. */
  readonly envKnown?: boolean;
}

/** What a stage ends with: the start of stages built FROM it, and what tsbuild's own rules read. */
export interface StageEnd extends StageStart {
  readonly argsDeclared: ReadonlySet<string>;
}

export interface DispatchContext {
  readonly metaScope: ReadonlyMap<string, string>;
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  readonly lex: LexOptions;
  /** .dockerignore of the context (CopyIgnoredFile); none: nothing is ignored. */
  readonly ignore?: ContextMatcher | undefined;
}

/** Build args BuildKit never turns into variables (nonEnvArgs). */
const NON_ENV_ARGS = new Set(['BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

const SECRET = /(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)/i;
const SECRET_ALLOW = /(?:_|^)(?:public|file|version)(?:_|$)/i;

/** True for an ARG/ENV name that looks like it holds a secret (validateNoSecretKey). */
export function isSecretName(key: string): boolean {
  return SECRET.test(key) && !SECRET_ALLOW.test(key);
}

/**
 * Walks one stage's instructions with `start` and reports through `rep` (a disabled reporter when the stage is
 * not built). Returns how the stage ends, or the error dispatch would fail with (a bad expansion).
 */
export function dispatchStage(s: CheckedStage, start: StageStart, c: DispatchContext, rep: Reporter): { end: StageEnd; failure?: unknown } {
  const env = start.env.some((e) => e.startsWith('PATH=')) ? start.env : ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...start.env];
  const scope = new StageScope({ metaScope: c.metaScope, buildArgs: c.buildArgs, baseEnv: env, ...(c.lex.escapeToken !== undefined ? { escapeToken: c.lex.escapeToken } : {}) });
  let shell = start.shell;
  let workdirSet = start.workdirSet;
  let user = start.user;
  const once: Partial<Record<'cmd' | 'entrypoint' | 'healthcheck', Where>> = {};
  const envKnown = start.envKnown !== false;
  const end = (): StageEnd => ({ env: [...scope.vars()].map(([k, v]) => `${k}=${v}`), shell, workdirSet, user, envKnown, argsDeclared: scope.declared() });
  const r = envKnown ? rep : undefined;
  for (const cmd of s.commands) {
    const { cfg } = cmd;
    const at = where(cmd.node);
    let ins: Instruction;
    try {
      if (cmd.ins.kind === 'arg') {
        dispatchArgs(cmd, scope, c, rep, r);
        continue;
      }
      ins = expandReporting(cmd, scope, c, r);
      scope.apply(cmd.ins);
    } catch (e) {
      return { end: end(), failure: e };
    }
    switch (ins.kind) {
      case 'env':
        for (const p of ins.pairs) {
          if (p.noDelim) rep.report(cfg, RULES.LegacyKeyValueFormat, at, FORMAT.LegacyKeyValueFormat(cmd.keyword));
          if (isSecretName(p.key)) rep.report(cfg, RULES.SecretsUsedInArgOrEnv, at, FORMAT.SecretsUsedInArgOrEnv('ENV', p.key));
        }
        break;
      case 'label':
        for (const p of ins.pairs) if (p.noDelim) rep.report(cfg, RULES.LegacyKeyValueFormat, at, FORMAT.LegacyKeyValueFormat(cmd.keyword));
        break;
      case 'cmd':
      case 'entrypoint':
      case 'healthcheck': {
        const prev = once[ins.kind];
        // The earlier one is reported: it is the one that has no effect.
        if (prev) rep.report(cfg, RULES.MultipleInstructionsDisallowed, prev, FORMAT.MultipleInstructionsDisallowed(cmd.keyword));
        once[ins.kind] = at;
        if (ins.kind !== 'healthcheck' && ins.prependShell && !shell) rep.report(cfg, RULES.JSONArgsRecommended, at, FORMAT.JSONArgsRecommended(cmd.keyword));
        break;
      }
      case 'shell':
        shell = ins.shell.length > 0;
        break;
      case 'workdir':
        if (!workdirSet && !ins.path.startsWith('/')) rep.report(cfg, RULES.WorkdirRelativePath, at, FORMAT.WorkdirRelativePath(ins.path));
        workdirSet = true;
        break;
      case 'user':
        user = ins.user;
        break;
      case 'expose':
        for (const p of ins.ports) exposeRules(p, cmd, rep);
        break;
      case 'copy':
      case 'add':
        if (c.ignore && !c.ignore.hasExceptions && !(ins.kind === 'copy' && ins.from !== undefined)) {
          for (const src of ins.sources) {
            if (ins.kind === 'add' && /^[a-z][a-z0-9+.-]*:\/\//i.test(src)) continue;
            ignoredSource(src, ins.kind === 'add' ? 'Add' : 'Copy', c.ignore, cmd, rep);
          }
        }
        break;
      default:
        break;
    }
  }
  return { end: end() };
}

/** Expands `cmd` with the stage's variables as dispatch does, reporting each unset variable (UndefinedVar). */
function expandReporting(cmd: CheckedCommand, scope: StageScope, c: DispatchContext, rep: Reporter | undefined): Instruction {
  if (!supportsExpansion(cmd.ins.kind)) return cmd.ins;
  const vars = scope.vars();
  const declared = scope.declared();
  if (cmd.ins.kind === 'run') {
    // RUN expands only its --mount values, every key=value field (instructions/commands_runmount.go parseMount)
    for (const m of cmd.ins.mounts) {
      for (const f of m.fields) if (f.value !== undefined) undefinedVars(expandWord(f.value, vars, c.lex).unset, vars, declared, cmd, rep);
    }
    return cmd.ins;
  }
  return expandInstruction(cmd.ins, {
    word: (w) => {
      const r = expandWord(w, vars, c.lex);
      undefinedVars(r.unset, vars, declared, cmd, rep);
      return r.value;
    },
    words: (w) => [...expandWord(w, vars, c.lex).words],
  });
}

function undefinedVars(unset: ReadonlySet<string>, vars: ReadonlyMap<string, string>, declared: ReadonlySet<string>, cmd: CheckedCommand, rep: Reporter | undefined): void {
  if (!rep) return;
  for (const v of unset) {
    if (declared.has(v) || NON_ENV_ARGS.has(v)) continue;
    rep.report(cmd.cfg, RULES.UndefinedVar, where(cmd.node), FORMAT.UndefinedVar(v, searchName(v, [...vars.keys()])));
  }
}

/** ARG, one declaration at a time: SecretsUsedInArgOrEnv, and UndefinedVar in a default that is used. */
function dispatchArgs(cmd: CheckedCommand, scope: StageScope, c: DispatchContext, rep: Reporter, undefRep: Reporter | undefined): void {
  if (cmd.ins.kind !== 'arg') return;
  for (const a of cmd.ins.args) {
    if (isSecretName(a.key)) rep.report(cmd.cfg, RULES.SecretsUsedInArgOrEnv, where(cmd.node), FORMAT.SecretsUsedInArgOrEnv('ARG', a.key));
    const given = Object.hasOwn(c.buildArgs, a.key) && c.buildArgs[a.key] !== undefined;
    if (!given && a.value !== undefined) {
      const vars = scope.vars();
      undefinedVars(expandWord(a.value, vars, c.lex).unset, vars, scope.declared(), cmd, undefRep);
    }
    scope.apply({ ...cmd.ins, args: [a] });
  }
}

/** ExposeProtoCasing and ExposeInvalidFormat for one port spec `[ip:][hostPort:]port[/proto]` (convert_expose.go). */
function exposeRules(raw: string, cmd: CheckedCommand, rep: Reporter): void {
  const parts = raw.split(':');
  const n = parts.length;
  const ip = n >= 3 ? parts.slice(0, n - 2).join(':') : '';
  const hostPort = n >= 2 ? parts[n - 2]! : '';
  const container = parts[n - 1]!;
  const slash = container.indexOf('/');
  const proto = slash < 0 ? '' : container.slice(slash + 1);
  if (proto !== proto.toLowerCase()) rep.report(cmd.cfg, RULES.ExposeProtoCasing, where(cmd.node), FORMAT.ExposeProtoCasing(raw));
  if (ip !== '' || hostPort !== '') rep.report(cmd.cfg, RULES.ExposeInvalidFormat, where(cmd.node), FORMAT.ExposeInvalidFormat(raw));
}

/** Go's path.Clean for a COPY source. */
function cleanPath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
      continue;
    }
    out.push(part);
  }
  const s = (abs ? '/' : '') + out.join('/');
  return s === '' ? '.' : s;
}

const ROOT_PATTERNS = new Set(['*', '**', '**/*']);

/** CopyIgnoredFile for one context source (validateCopySourcePath); the context root only under `*`-like patterns. */
function ignoredSource(src: string, verb: 'Copy' | 'Add', ignore: ContextMatcher, cmd: CheckedCommand, rep: Reporter): void {
  const clean = cleanPath(src);
  let ignored: boolean;
  if (clean === '.' || clean === '/') {
    ignored = ignore.patterns.some((p) => !p.trim().startsWith('!') && ROOT_PATTERNS.has(p.trim()));
  } else {
    ignored = ignore.isExcluded(clean.replace(/^\/+/, ''));
  }
  if (ignored) rep.report(cmd.cfg, RULES.CopyIgnoredFile, where(cmd.node), FORMAT.CopyIgnoredFile(verb, clean));
}

