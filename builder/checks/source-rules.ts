/**
 * Rules on the Dockerfile as written, over every stage (BuildKit runs them while parsing, before any stage is
 * chosen): NoEmptyContinuation, MaintainerDeprecated, StageNameCasing, FromAsCasing, InvalidDefinitionDescription,
 * DuplicateStageName, ReservedStageName, ConsistentInstructionCasing. Also groups the instructions into stages
 * the way BuildKit's instructions.Parse does (a duplicate stage name is a warning here, not an error).
 */
import type { DockerfileAst, InstructionNode } from '../frontend/parser/index.js';
import { parseInstruction, type ArgInstruction, type FromInstruction, type Instruction } from '../frontend/instructions/index.js';
import { withComments, type CheckConfig } from './config.js';
import type { Reporter, Where } from './report.js';
import { FORMAT, RULES } from './rules.js';

export interface CheckedCommand {
  readonly ins: Instruction;
  readonly node: InstructionNode;
  /** The config for this instruction: the file's, plus its own `# check=` comment. */
  readonly cfg: CheckConfig;
  /** The keyword as written (`COPY`, `copy`, `Copy`). */
  readonly keyword: string;
}

export interface CheckedStage {
  readonly index: number;
  readonly from: FromInstruction;
  readonly node: InstructionNode;
  readonly cfg: CheckConfig;
  readonly keyword: string;
  readonly commands: CheckedCommand[];
}

export interface SourceResult {
  readonly stages: CheckedStage[];
  readonly metaArgs: ArgInstruction[];
  /** The error that stopped parsing (an unknown instruction, a bad flag, …): warnings before it still count. */
  readonly failure?: unknown;
}

export const where = (n: { line: number; endLine: number }): Where => ({ line: n.line, endLine: n.endLine });

/** The instruction keyword as written: the first word of the logical line. */
export function keywordOf(node: InstructionNode): string {
  return /^\s*(\S+)/.exec(node.original)?.[1] ?? node.cmd;
}

/** Runs the parse-time rules on every instruction, in file order, and groups the instructions into stages. */
export function checkSource(ast: DockerfileAst, rep: Reporter, base: CheckConfig): SourceResult {
  for (const w of ast.warnings) {
    if (w.message.startsWith('Empty continuation line')) rep.report(base, RULES.NoEmptyContinuation, { line: w.line, endLine: w.line }, FORMAT.NoEmptyContinuation());
  }
  const stages: CheckedStage[] = [];
  const metaArgs: ArgInstruction[] = [];
  for (const node of ast.children) {
    const cfg = withComments(base, node.comments);
    const keyword = keywordOf(node);
    const at = where(node);
    if (node.cmd === 'maintainer') rep.report(cfg, RULES.MaintainerDeprecated, at, FORMAT.MaintainerDeprecated());
    if (node.cmd === 'from') fromCasing(node, keyword, cfg, rep);
    let ins: Instruction;
    try {
      ins = parseInstruction(node, rep.file);
    } catch (e) {
      return { stages, metaArgs, failure: e };
    }
    if (ins.kind === 'from' && ins.stageName !== undefined) definitionDescription('FROM', [ins.stageName], node, cfg, rep);
    if (ins.kind === 'arg') definitionDescription('ARG', ins.args.map((a) => a.key), node, cfg, rep);
    if (ins.kind === 'from') {
      stages.push({ index: stages.length, from: ins, node, cfg, keyword, commands: [] });
    } else if (stages.length === 0) {
      if (ins.kind === 'arg') metaArgs.push(ins);
      // anything else before FROM: the build's own stage resolution reports it
    } else {
      stages[stages.length - 1]!.commands.push({ ins, node, cfg, keyword });
    }
  }
  stageNames(stages, rep, base);
  commandCasing(stages, rep, base);
  return { stages, metaArgs };
}

/** StageNameCasing and FromAsCasing (instructions/parse.go isLowerCaseStageName, doesFromCaseMatchAsCase). */
function fromCasing(node: InstructionNode, keyword: string, cfg: CheckConfig, rep: Reporter): void {
  const args = node.args;
  if (args.length === 3 && args[2] !== args[2]!.toLowerCase()) rep.report(cfg, RULES.StageNameCasing, where(node), FORMAT.StageNameCasing(args[2]!));
  if (args.length < 3) return;
  const lower = keyword === keyword.toLowerCase();
  const upper = keyword === keyword.toUpperCase();
  if (!lower && !upper) return; // an inconsistent FROM is ConsistentInstructionCasing's
  const as = args[1]!;
  const ok = lower ? as === as.toLowerCase() : as === as.toUpperCase();
  if (!ok) rep.report(cfg, RULES.FromAsCasing, where(node), FORMAT.FromAsCasing(keyword, as));
}

/** InvalidDefinitionDescription: the last comment before a named FROM or an ARG must start with the name. */
function definitionDescription(ins: string, keys: readonly string[], node: InstructionNode, cfg: CheckConfig, rep: Reporter): void {
  const comments = node.comments ?? [];
  if (comments.length === 0 || keys.length === 0) return;
  const first = comments[comments.length - 1]!.split(' ')[0]!;
  if (keys.includes(first)) return;
  rep.report(cfg, RULES.InvalidDefinitionDescription, where(node), FORMAT.InvalidDefinitionDescription(ins, keys.length > 1 ? '<arg_key>' : keys[0]!));
}

const RESERVED = new Set(['context', 'scratch']);

/** ReservedStageName and DuplicateStageName (validateStageNames), with the file's config. */
function stageNames(stages: readonly CheckedStage[], rep: Reporter, base: CheckConfig): void {
  const seen = new Set<string>();
  for (const s of stages) {
    const name = s.from.stageName;
    if (name === undefined) continue;
    if (RESERVED.has(name)) rep.report(base, RULES.ReservedStageName, where(s.node), FORMAT.ReservedStageName(name));
    if (seen.has(name)) rep.report(base, RULES.DuplicateStageName, where(s.node), FORMAT.DuplicateStageName(name));
    seen.add(name);
  }
}

/** ConsistentInstructionCasing (validateCommandCasing): every keyword in the casing most keywords use. */
function commandCasing(stages: readonly CheckedStage[], rep: Reporter, base: CheckConfig): void {
  let lower = 0;
  let upper = 0;
  const all: { keyword: string; node: InstructionNode }[] = [];
  for (const s of stages) {
    all.push({ keyword: s.keyword, node: s.node });
    for (const c of s.commands) all.push({ keyword: c.keyword, node: c.node });
  }
  for (const { keyword } of all) {
    if (keyword === keyword.toLowerCase()) lower++;
    else if (keyword === keyword.toUpperCase()) upper++;
  }
  const majorityLower = lower > upper;
  for (const { keyword, node } of all) {
    let casing: string | undefined;
    if (majorityLower && keyword.toLowerCase() !== keyword) casing = 'lowercase';
    else if (!majorityLower && keyword.toUpperCase() !== keyword) casing = 'uppercase';
    if (casing) rep.report(base, RULES.ConsistentInstructionCasing, where(node), FORMAT.ConsistentInstructionCasing(keyword, casing));
  }
}
