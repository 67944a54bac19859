/**
 * `tsbuild run`'s argument split, apart from the command so that main.ts can apply it before any command module
 * is loaded: everything after IMAGE is the container's command, options included.
 */
import { TsbuildError } from '../../layer-store/core/index.js';

/** The options of `tsbuild run` (and the global ones) that take a value: the word after them is not IMAGE. */
const VALUE_OPTIONS = new Set([
  '--root', '--progress', '--volume', '-v', '--env', '-e', '--env-file', '--workdir', '-w', '--user', '-u', '--network',
  '--entrypoint', '--platform', '--runtime', '--publish', '-p', '--name', '--hostname',
  '--mount', '--memory', '-m', '--cpus', '--pids-limit', '--cap-add', '--cap-drop',
]);

/** Its options that take no value. */
const FLAG_OPTIONS = new Set([
  '--debug', '--help', '-h', '--rm', '--keep', '--interactive', '-i', '--tty', '-t', '--detach', '-d', '--read-only',
  '--init',
]);

/** Throws the usage error for `opt` (the part before any `=`) unless `tsbuild run` has that option (docker's words). */
function checkKnown(opt: string): void {
  const name = opt.split('=')[0]!;
  const known = (n: string): boolean => VALUE_OPTIONS.has(n) || FLAG_OPTIONS.has(n);
  const hint = "See 'tsbuild run --help'.";
  if (name.startsWith('--')) {
    if (!known(name)) throw new TsbuildError('USAGE', `unknown flag: ${name}`, { hint });
    return;
  }
  for (const c of name.slice(1)) {
    if (!known(`-${c}`)) throw new TsbuildError('USAGE', `unknown shorthand flag: '${c}' in ${name}`, { hint });
    if (VALUE_OPTIONS.has(`-${c}`)) return; // the rest of the group is its value
  }
}

/**
 * Returns `args` (the CLI's arguments) with `--` put right after the IMAGE of a `run` command, so that everything
 * after IMAGE is the command, options included (`docker run [OPTIONS] IMAGE [COMMAND] [ARG…]`). Other commands,
 * and a `run` whose IMAGE is already followed by `--`, are returned unchanged. An option before IMAGE that
 * `tsbuild run` does not have is a usage error naming it.
 */
export function separateRunCommand(args: readonly string[]): string[] {
  let i = 0;
  let sawRun = false;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return [...args];
    if (a.startsWith('-') && a.length > 1) {
      if (sawRun) checkKnown(a);
      if (!a.includes('=') && (VALUE_OPTIONS.has(a) || (sawRun && /^-[a-zA-Z]+$/.test(a) && VALUE_OPTIONS.has(`-${a.at(-1)}`)))) i++;
      continue;
    }
    if (!sawRun) {
      if (a !== 'run') return [...args];
      sawRun = true;
      continue;
    }
    // IMAGE
    if (args[i + 1] === '--' || i + 1 === args.length) return [...args];
    return [...args.slice(0, i + 1), '--', ...args.slice(i + 1)];
  }
  return [...args];
}
