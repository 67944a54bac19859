/** The argv of RUN, CMD and ENTRYPOINT (pure): shell form runs with the stage's SHELL; RUN heredocs are folded in. */
import type { ImageConfig } from '../../layer-store/core/index.js';
import { chompHeredocContent, parseHeredocWord, type RunInstruction } from '../frontend/index.js';

/** Returns `[...SHELL, args joined by spaces]`; SHELL defaults to `/bin/sh -c`. */
export function withShell(config: ImageConfig, args: readonly string[]): string[] {
  const shell = config.config?.Shell && config.config.Shell.length > 0 ? config.config.Shell : ['/bin/sh', '-c'];
  return [...shell, args.join(' ')];
}

/** Where a RUN's shebang heredoc is mounted (read-only), as BuildKit's dispatchRun does. */
export const SCRIPT_DIR = '/dev/pipes';

/** A heredoc a RUN runs as a file through its `#!` interpreter: `SCRIPT_DIR/name`, mode 0755, holding `data`. */
export interface RunScript {
  readonly name: string;
  readonly data: string;
}

/** What a RUN executes: its argv, and the script file it runs when it is a single shebang heredoc. */
export interface RunCommand {
  readonly args: string[];
  readonly script?: RunScript;
}

/** True when `word` is a whole heredoc header (BuildKit's MustParseHeredoc: a malformed one is not). */
function isHeredocWord(word: string): boolean {
  try {
    return parseHeredocWord(word) !== undefined;
  } catch {
    return false;
  }
}

/**
 * Returns what a RUN executes (BuildKit's dispatchRun). Shell form whose command is only `<<EOF`: a body starting
 * with `#!` (chomped for `<<-`) becomes a script file run by path (not on Windows), any other body is the shell
 * script itself. Otherwise each body and its terminator are appended to the command line. Heredoc bodies of RUN
 * are never expanded by the builder: the shell does it.
 */
export function runCommand(config: ImageConfig, ins: RunInstruction): RunCommand {
  let args = [...ins.cmdLine];
  let script: RunScript | undefined;
  if (ins.heredocs.length > 0 && ins.prependShell && args.length === 1) {
    const first = ins.heredocs[0]!;
    if (isHeredocWord(args[0]!)) {
      const data = first.chomp ? chompHeredocContent(first.content) : first.content;
      if (config.os !== 'windows' && data.startsWith('#!')) {
        script = { name: first.name, data };
        args = [`${SCRIPT_DIR}/${first.name}`];
      } else {
        args = [data];
      }
    } else {
      let b = args[0]!;
      for (const h of ins.heredocs) b += '\n' + h.content + h.name;
      args = [b];
    }
  }
  const argv = ins.prependShell ? withShell(config, args) : args;
  return script ? { args: argv, script } : { args: argv };
}

/** Returns the argv a RUN executes (runCommand's `args`). */
export function runArgs(config: ImageConfig, ins: RunInstruction): string[] {
  return runCommand(config, ins).args;
}
