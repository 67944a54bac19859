/** Stages: typed instructions grouped under their FROM, and the global (meta) ARGs before the first FROM. */
import type { DockerfileAst, InstructionNode } from '../parser/index.js';
import { DockerfileError } from '../errors.js';
import { parseInstruction, type ArgInstruction, type FromInstruction, type Instruction, type InstructionLocation } from '../instructions/index.js';

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
 * instructions before the first FROM (other than ARG). A repeated stage name is allowed (the later stage takes it).
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
  for (const n of nodes) {
    const ins = parseInstruction(n, fileName);
    if (ins.kind === 'from') {
      flush();
      // A repeated stage name is BuildKit's DuplicateStageName warning (builder/checks), not an error: the later
      // stage takes the name, as dispatchStates.addState does (graph.ts).
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
    throw new DockerfileError('DOCKERFILE_STAGE', 'dockerfile contains no stages to build: the Dockerfile has no FROM instruction', {
      hint: 'add FROM <image> (or FROM scratch)',
      location: { file: fileName, line: last?.line ?? 1 },
    });
  }
  return { stages, metaArgs };
}

function isAst(x: readonly InstructionNode[] | DockerfileAst): x is DockerfileAst {
  return !Array.isArray(x);
}
