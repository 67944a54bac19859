/**
 * The global options of every command (`--root`, `--debug`, `--progress`), as yargs options: main.ts registers
 * them on its parser and fast-args.ts reads the same list, so both parse them alike.
 */
import type { Options } from 'yargs';
import { defaultRoot } from './context.js';

/** Returns each global option's name and yargs options (`--root`'s default read from the environment now). */
export function globalOptions(): [string, Options][] {
  return [
    ['root', {
      type: 'string',
      default: defaultRoot(),
      defaultDescription: '$TSBUILD_ROOT, /var/lib/tsbuild for root, else $XDG_DATA_HOME/tsbuild or ~/.local/share/tsbuild',
      describe: 'store directory (OCI layout, snapshots, cache)',
      global: true,
    }],
    ['debug', { type: 'boolean', default: false, describe: 'debug logging and stack traces on errors', global: true }],
    ['progress', {
      choices: ['auto', 'tty', 'plain', 'json', 'quiet', 'rawjson', 'none'] as const,
      default: 'auto' as const,
      describe: 'progress output: live view on a tty, plain lines, JSON events (one per line) or nothing',
      global: true,
    }],
  ];
}
