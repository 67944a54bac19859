/** The argv of RUN, CMD and ENTRYPOINT (pure): shell form runs with the stage's SHELL; RUN heredocs are folded in. */
import type { ImageConfig } from '../../layer-store/core/index.js';
import { chompHeredocContent, type RunInstruction } from '../frontend/index.js';

/** Returns `[...SHELL, args joined by spaces]`; SHELL defaults to `/bin/sh -c`. */
export function withShell(config: ImageConfig, args: readonly string[]): string[] {
  const shell = config.config?.Shell && config.config.Shell.length > 0 ? config.config.Shell : ['/bin/sh', '-c'];
  return [...shell, args.join(' ')];
}

/**
 * Returns the argv a RUN executes. Shell form with heredocs: a command that is only `<<EOF` runs the heredoc's
 * body as the script (chomped for `<<-`); otherwise each body and its terminator are appended, as BuildKit does.
 */
export function runArgs(config: ImageConfig, ins: RunInstruction): string[] {
  let args = [...ins.cmdLine];
  if (ins.heredocs.length > 0 && ins.prependShell && args.length === 1) {
    const first = ins.heredocs[0]!;
    const only = /^\s*\d*<<-?\s*['"]?[^'"\s]+['"]?\s*$/.test(args[0]!);
    if (only) {
      const data = first.chomp ? chompHeredocContent(first.content) : first.content;
      args = [data];
    } else {
      let b = args[0]!;
      for (const h of ins.heredocs) b += '\n' + h.content + h.name;
      args = [b];
    }
  }
  return ins.prependShell ? withShell(config, args) : args;
}
