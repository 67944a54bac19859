/**
 * The usage error for a command line yargs rejected, as docker's CLI words it: an option the command does not
 * have is named first (`unknown flag: --bogus`, `unknown shorthand flag: 'Z' in -Z`), wherever it stands. yargs
 * alone reads an unknown option before a positional as taking that positional as its value, and then reports
 * the missing positional (`Not enough non-option arguments`) instead of the option. Every message ends with
 * docker's pointer to the command's help (`See 'tsbuild push --help'.`), as the hint of the one error line.
 * Too few or too many positionals are said as docker's CLI says them (its cli/required.go: `"docker tag" requires
 * exactly 2 arguments.`, without its period here), from the command's own positionals in cli/commands/index.ts.
 */
import { TsbuildError } from '../layer-store/core/index.js';
import { commands, namesOf } from './commands/index.js';

/** What yargs knows of the command that failed (its `getOptions()`, reduced to what this needs). */
export interface KnownOptions {
  /** Every option name and alias (yargs' `key`). */
  readonly key: Readonly<Record<string, unknown>>;
  /** Option names that take no value (yargs' `boolean` and `count`). */
  readonly boolean: readonly string[];
  readonly count?: readonly string[];
}

/**
 * Returns the first option in `args` that `known` lacks, as docker names it (`--bogus`; a short one within a
 * group, `-xZ`, as `'Z' in -xZ`), or undefined. Skips the command words, the value of each known option that
 * takes one (`--tag x`, `-t x`, `-tx`), a bare `-`, negative numbers, and everything after `--`.
 */
export function findUnknownFlag(args: readonly string[], known: KnownOptions): { flag: string; short?: { char: string } } | undefined {
  const has = (name: string): boolean => Object.prototype.hasOwnProperty.call(known.key, name) || Object.prototype.hasOwnProperty.call(known.key, camel(name));
  const noValue = new Set([...known.boolean, ...(known.count ?? [])]);
  const takesValue = (name: string): boolean => !noValue.has(name) && !noValue.has(camel(name));
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return undefined;
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) continue; // a negative number is a value, as yargs reads it
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      if (!has(name)) return { flag: `--${name}` };
      if (eq < 0 && takesValue(name) && args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) i++;
      continue;
    }
    const group = a.split('=')[0]!.slice(1);
    for (let j = 0; j < group.length; j++) {
      const c = group[j]!;
      if (!has(c)) return { flag: a.split('=')[0]!, short: { char: c } };
      if (takesValue(c)) {
        // The rest of the group (`-tname`) or the next word (`-t name`) is its value.
        if (j === group.length - 1 && !a.includes('=') && args[i + 1] !== undefined && !args[i + 1]!.startsWith('-')) i++;
        break;
      }
    }
  }
  return undefined;
}

/** Returns the usage error for a command line yargs rejected with `msg`; `command` is the command's words. */
export function usageError(msg: string, args: readonly string[], known: KnownOptions | undefined, command: readonly string[]): TsbuildError {
  const hint = `See 'tsbuild ${[...(command.length ? command : ['build']), '--help'].join(' ')}'.`;
  const unknown = known ? findUnknownFlag(args, known) : undefined;
  if (unknown?.short) return new TsbuildError('USAGE', `unknown shorthand flag: '${unknown.short.char}' in ${unknown.flag}`, { hint });
  if (unknown) return new TsbuildError('USAGE', `unknown flag: ${unknown.flag}`, { hint });
  const arity = /^(Not enough non-option arguments|Unknown arguments?):/.test(msg) ? arityError(command) : undefined;
  if (arity) return new TsbuildError('USAGE', arity, { hint });
  return new TsbuildError('USAGE', msg.replace(/\s*\n\s*/g, ' '), { hint }); // yargs' "Invalid values:\n  Argument: …" on one line
}

/**
 * Docker's words for a wrong number of positionals of the command named by `command` (one word: subcommands keep
 * yargs' words), from its yargs command string: `<a>` is required, `[b]` optional, `..` any number.
 */
export function arityError(command: readonly string[]): string | undefined {
  const word = command.length === 0 ? 'build' : command.length === 1 ? command[0]! : undefined;
  const entry = word === undefined ? undefined : commands.find((c) => namesOf(c).includes(word));
  if (!entry) return undefined;
  const spec = [entry.command].flat()[0]!;
  const parts = spec.match(/[<[][^>\]]+[>\]]/g) ?? [];
  const min = parts.filter((p) => p.startsWith('<')).length;
  const max = parts.some((p) => p.includes('..')) ? Infinity : parts.length;
  const args = (n: number): string => `${n} argument${n === 1 ? '' : 's'}`;
  const what = `"tsbuild ${word}"`;
  if (max === 0) return `${what} accepts no arguments`;
  if (min === max) return `${what} requires exactly ${args(min)}`;
  if (max === Infinity) return `${what} requires at least ${args(min)}`;
  if (min === 0) return `${what} requires at most ${args(max)}`;
  return `${what} requires at least ${min} and at most ${args(max)}`;
}

/** yargs' camel-case expansion of a dashed option name (`build-arg` → `buildArg`). */
function camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
