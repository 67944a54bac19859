/**
 * The `tsbuild` executable: yargs flags → api.ts calls. Adds only flag parsing, rendering and exit codes.
 * Every error becomes one line on stderr (`error: <what> (<where>): <hint>`); the stack only under --debug.
 */
import { readFileSync } from 'node:fs';
import yargs, { type Argv, type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { formatError, TsbuildError } from '../layer-store/core/index.js';
import { defaultRoot, installSignalHandlers, type GlobalArgs } from './context.js';
import { commands } from './commands/index.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Builds the yargs parser (exported for tests that check flags without spawning). */
export function cli(argv: readonly string[], signal?: AbortSignal): Argv<GlobalArgs> {
  let y = yargs([...argv])
    .middleware((a) => { (a as Record<string, unknown>).signal = signal; })
    .scriptName('tsbuild')
    .usage('$0 [command] [options]\n\nDaemonless OCI image builder and registry toolkit. `tsbuild -t NAME .` builds.')
    .option('root', {
      type: 'string',
      default: defaultRoot(),
      defaultDescription: '$TSBUILD_ROOT, /var/lib/tsbuild for root, else $XDG_DATA_HOME/tsbuild or ~/.local/share/tsbuild',
      describe: 'store directory (OCI layout, snapshots, cache)',
      global: true,
    })
    .option('debug', { type: 'boolean', default: false, describe: 'debug logging and stack traces on errors', global: true })
    .option('progress', {
      choices: ['auto', 'tty', 'plain', 'json', 'quiet'] as const,
      default: 'auto' as const,
      describe: 'progress output: live view on a tty, plain lines, JSON events (one per line) or nothing',
      global: true,
    })
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
      throw new TsbuildError('USAGE', msg, { hint: 'run `tsbuild --help` for usage' });
    }) as unknown as Argv<GlobalArgs>;
  for (const c of commands) y = y.command(c as CommandModule<GlobalArgs, GlobalArgs>);
  return y;
}

async function main(): Promise<void> {
  const args = hideBin(process.argv);
  const debug = args.includes('--debug');
  try {
    await cli(args, installSignalHandlers()).parseAsync();
  } catch (e) {
    process.stderr.write(`error: ${formatError(e)}\n`);
    if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    if (debug && e instanceof Error && e.cause instanceof Error && e.cause.stack) process.stderr.write(`caused by: ${e.cause.stack}\n`);
    process.exitCode = TsbuildError.is(e) && e.code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE;
  }
}

await main();
