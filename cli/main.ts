/**
 * The `tsbuild` executable: yargs flags → api.ts calls. Adds only flag parsing, rendering and exit codes.
 * Every error becomes one line on stderr (`error: <what> (<where>): <hint>`); the stack only under --debug.
 * cli/bin.ts runs it.
 */
import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { formatError, TsbuildError } from '../layer-store/core/index.js';
import { installSignalHandlers, outputClosed, type GlobalArgs } from './context.js';
import { globalOptions } from './global-options.js';
import { commands, isDefault, namesOf, type CommandEntry } from './commands/index.js';
import { separateRunCommand } from './commands/run-args.js';
import { enterRootless } from './rootless.js';
import { usageError, type KnownOptions } from './unknown-flag.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Builds the yargs parser (exported for tests that check flags without spawning); loads the commands it needs. */
export async function cli(argv: readonly string[], signal?: AbortSignal): Promise<Argv<GlobalArgs>> {
  // yargs is a chunk of its own, loaded here: `tsbuild --version` never loads it (see main).
  const { default: yargs } = await import('yargs');
  const args = separateRunCommand(argv);
  let y = yargs(args)
    .middleware((a) => {
      // A global flag given twice (a wrapper's default, then the user's) takes the last value, as docker's do.
      for (const k of ['root', 'progress'] as const) if (Array.isArray(a[k])) (a as Record<string, unknown>)[k] = (a[k] as unknown[]).at(-1);
    }, true)
    .middleware((a) => { (a as Record<string, unknown>).signal = signal; })
    .scriptName('tsbuild')
    .usage('$0 [command] [options]\n\nDaemonless OCI image builder and registry toolkit. `tsbuild -t NAME .` builds.')
    .options(Object.fromEntries(globalOptions()))
    // `--no-cache` is an option of its own (as in docker build), not the negation of a `cache` option.
    .parserConfiguration({ 'boolean-negation': false })
    .strict()
    .recommendCommands()
    .version(version())
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      // The failing command's options are registered on this same instance by now (its builder ran).
      const internal = (y as unknown as { getInternalMethods?: () => { getContext?: () => { commands?: string[] } } }).getInternalMethods?.();
      throw usageError(msg, args, (y as unknown as { getOptions?: () => KnownOptions }).getOptions?.(), internal?.getContext?.().commands ?? []);
    }) as unknown as Argv<GlobalArgs>;
  for (const c of await commandsFor(argv)) y = y.command(c as CommandModule<GlobalArgs, GlobalArgs>);
  skipHelpCaching(y);
  return y;
}

/** Global options that take a value (skipped when looking for the command word). */
const GLOBAL_VALUE_OPTIONS = new Set(['--root', '--progress']);

/**
 * The commands to register, loading only the modules needed:
 * - the first word after the global options names a command: that command alone (registering all of them
 *   costs ~15 ms of every start, loading all their modules much more);
 * - else the default command (`build`: `tsbuild -t app .`) is loaded and the others are registered by name and
 *   description only ({@link listedOnly}), which is all that top-level help and "did you mean" read; with only
 *   `--version` after the global options, the default command too;
 * - a word anywhere that names a non-default command (`tsbuild --help images`): all of them, loaded.
 */
async function commandsFor(argv: readonly string[]): Promise<CommandModule<never, never>[]> {
  let i = 0;
  while (i < argv.length) {
    const a = argv[i]!;
    if (GLOBAL_VALUE_OPTIONS.has(a)) i += 2;
    else if (a.startsWith('--root=') || a.startsWith('--progress=') || a === '--debug') i += 1;
    else break;
  }
  const word = argv[i];
  const named = word === undefined || word.startsWith('-') ? undefined : commands.find((c) => namesOf(c).includes(word));
  if (named) return [await named.load()];
  const mentioned = argv.some((a) => commands.some((c) => !isDefault(c) && namesOf(c).includes(a)));
  if (mentioned) return Promise.all(commands.map((c) => c.load()));
  const versionOnly = word === '--version' && i === argv.length - 1;
  return Promise.all(commands.map((c) => (isDefault(c) && !versionOnly ? c.load() : listedOnly(c))));
}

/**
 * A command registered by name and description only, its module not loaded. yargs runs a command only when a
 * word of the arguments names it, and commandsFor loads every command some word names; so this handler is
 * never reached.
 */
function listedOnly(c: CommandEntry): CommandModule<never, never> {
  return {
    command: c.command as string | string[],
    describe: c.describe,
    handler: () => {
      throw new TsbuildError('UNSUPPORTED', `command ${namesOf(c)[0] ?? 'build'} ran without its module`, { hint: 'report this as a bug' });
    },
  };
}

/**
 * yargs renders the whole help text before running a named command, in case the command fails and help
 * must be shown. Our failures are one error line, never help, so that rendering (string widths of every
 * option; 60 ms, a fifth of a no-change rebuild) is skipped. `--help` still renders help when asked.
 */
function skipHelpCaching(y: Argv<GlobalArgs>): void {
  const internal = (y as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.();
  const usage = internal?.getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => undefined;
}

/**
 * Runs one command line (default: this process's arguments) and sets process.exitCode; never throws. The
 * executable's entry (cli/bin.ts) calls it.
 */
export async function main(args: readonly string[] = process.argv.slice(2)): Promise<void> {
  const debug = args.includes('--debug');
  try {
    // Not root: the command runs again inside a user namespace of the user's own (rootless.ts).
    const status = await enterRootless(args);
    if (status !== undefined) { process.exitCode = status; return; }
    // What yargs prints for `--version` alone (its version line), without loading yargs (a third of this start).
    if (args.length === 1 && args[0] === '--version') { console.log(version()); return; }
    const signal = installSignalHandlers();
    // A plain command line skips yargs (fast-args.ts: the same arguments object); anything else is yargs'.
    // (A chunk of its own: `--version` above never loads it.)
    const fast = await (await import('./fast-args.js')).fastCommand({ commands, namesOf, isDefault, globalOptions }, args, signal);
    if (fast) await fast.module.handler(fast.argv as never);
    else await (await cli(args, signal)).parseAsync();
  } catch (e) {
    if (outputClosed()) return;
    process.stderr.write(`error: ${formatError(e)}\n`);
    if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    if (debug && e instanceof Error && e.cause instanceof Error && e.cause.stack) process.stderr.write(`caused by: ${e.cause.stack}\n`);
    process.exitCode = TsbuildError.is(e) && e.code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE;
  }
}
