/**
 * RUN --mount expansion (pure), the one place a RUN's mounts are expanded: each ParsedMount the instruction
 * carries (split and validated once at parse time) is interpreted again with every value expanded by the
 * stage's variables, giving the final RunMount[]. Error messages quote the value as written, at the RUN's line.
 */
import { DockerfileError, interpretMount, processWord, type EscapeToken, type RunInstruction, type RunMount } from '../frontend/index.js';

/**
 * Returns the final mounts of `ins`, every value expanded with `expand`. Throws DockerfileError: DOCKERFILE_BAD_FLAG
 * for a value that is invalid once expanded, EXPANSION for a bad variable reference (given the RUN's location).
 */
export function expandRunMounts(ins: RunInstruction, expand: (word: string) => string): RunMount[] {
  const word = (w: string): string => {
    try {
      return expand(w);
    } catch (e) {
      if (e instanceof DockerfileError && e.location === undefined) e.location = ins.location;
      throw e;
    }
  };
  return ins.mounts.map((p) => interpretMount(p, ins.location, word).mount);
}

/** The expander a stage uses: BuildKit's ProcessWord with the stage's current variables and escape token. */
export function stageExpander(vars: ReadonlyMap<string, string>, escapeToken: EscapeToken | undefined): (word: string) => string {
  return (w) => processWord(w, vars, escapeToken !== undefined ? { escapeToken } : {});
}
