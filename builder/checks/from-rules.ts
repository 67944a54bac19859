/**
 * Rules on FROM lines, over every stage (BuildKit: validateBaseImagesWithDefaultArgs and buildDispatchStates):
 * InvalidDefaultArgInFrom, UndefinedArgInFrom, RedundantTargetPlatform, FromPlatformFlagConstDisallowed; and
 * InvalidBaseImagePlatform for the stages built, once their base images are known.
 */
import { formatPlatform, parsePlatform, type Platform } from '../../layer-store/core/index.js';
import type { EscapeToken } from '../frontend/parser/index.js';
import type { ArgInstruction } from '../frontend/instructions/index.js';
import { expandWord } from '../frontend/shell/index.js';
import { isImageReference, resolveMetaArgs, type PlatformOptions } from '../frontend/stages/index.js';
import { withComments, type CheckConfig } from './config.js';
import type { Reporter } from './report.js';
import { FORMAT, RULES } from './rules.js';
import { where, type CheckedStage } from './source-rules.js';
import { searchName } from './suggest.js';

export interface FromContext {
  readonly metaArgs: readonly ArgInstruction[];
  readonly buildArgs: Readonly<Record<string, string | undefined>>;
  readonly platform: PlatformOptions;
  readonly escapeToken: EscapeToken;
}

/** The global scope with the build args, or undefined when a meta ARG does not expand (the build reports that). */
export function globalScope(c: FromContext, buildArgs = c.buildArgs): Map<string, string> | undefined {
  try {
    return resolveMetaArgs(c.metaArgs, { buildArgs, platform: c.platform, escapeToken: c.escapeToken });
  } catch {
    return undefined;
  }
}

/** Runs the FROM rules on every stage, in file order. */
export function checkFromLines(stages: readonly CheckedStage[], c: FromContext, rep: Reporter, base: CheckConfig): void {
  const lex = { escapeToken: c.escapeToken };
  // InvalidDefaultArgInFrom: the base names must stay valid with the ARG defaults alone (no build args).
  const defaults = globalScope(c, {});
  if (defaults) {
    for (const s of stages) {
      let name: string;
      try {
        name = expandWord(s.from.image, defaults, lex).value;
      } catch {
        break;
      }
      if (!isImageReference(name)) rep.report(base, RULES.InvalidDefaultArgInFrom, where(s.node), FORMAT.InvalidDefaultArgInFrom(s.from.image));
    }
  }
  const scope = globalScope(c);
  if (!scope) return;
  // Every meta ARG counts as declared, with or without a value (unusedFromArgsCheckKeys).
  const declared = new Set([...scope.keys(), ...c.metaArgs.flatMap((a) => a.args.map((d) => d.key))]);
  const undeclared = (unset: ReadonlySet<string>, cfg: CheckConfig, at: CheckedStage): void => {
    for (const v of unset) {
      if (declared.has(v)) continue;
      rep.report(cfg, RULES.UndefinedArgInFrom, where(at.node), FORMAT.UndefinedArgInFrom(v, searchName(v, [...declared])));
    }
  };
  for (const s of stages) {
    const cfg = withComments(base, s.node.comments);
    try {
      undeclared(expandWord(s.from.image, scope, lex).unset, cfg, s);
    } catch {
      continue;
    }
    const p = s.from.platform;
    if (p === undefined) continue;
    let m;
    try {
      m = expandWord(p, scope, lex);
    } catch {
      continue;
    }
    undeclared(m.unset, cfg, s);
    if (m.referenced.size === 1 && m.unset.size === 0 && m.referenced.has('TARGETPLATFORM') && m.value === scope.get('TARGETPLATFORM')) {
      rep.report(cfg, RULES.RedundantTargetPlatform, where(s.node), FORMAT.RedundantTargetPlatform(p));
    }
    if (m.referenced.size === 0 && m.unset.size === 0) constPlatform(s, m.value, cfg, rep);
  }
}

/** FromPlatformFlagConstDisallowed, unless the stage's name mentions the platform's OS or architecture. */
function constPlatform(s: CheckedStage, value: string, cfg: CheckConfig, rep: Reporter): void {
  let p: Platform;
  try {
    p = parsePlatform(value);
  } catch {
    return; // the build fails on it
  }
  const name = s.from.stageName ?? '';
  if (name.includes(p.os) || name.includes(p.architecture)) return;
  rep.report(cfg, RULES.FromPlatformFlagConstDisallowed, where(s.node), FORMAT.FromPlatformFlagConstDisallowed(value));
}

/** InvalidBaseImagePlatform: the base image's OS/architecture differ from the platform the stage builds for. */
export function checkBasePlatform(s: CheckedStage, ref: string, expected: Platform, actual: Platform, rep: Reporter, base: CheckConfig): void {
  if (expected.os === actual.os && expected.architecture === actual.architecture) return;
  rep.report(base, RULES.InvalidBaseImagePlatform, where(s.node), FORMAT.InvalidBaseImagePlatform(ref, formatPlatform(expected), formatPlatform(actual)));
}
