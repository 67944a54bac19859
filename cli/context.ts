import { setMaxListeners } from 'node:events';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { noopLogger, stderrLogger, type Logger } from '../layer-store/core/index.js';

/** `rawjson`: BuildKit's SolveStatus lines on stderr (buildx's); `none`: nothing at all, not even the ID. */
export type ProgressMode = 'auto' | 'tty' | 'plain' | 'json' | 'quiet' | 'rawjson' | 'none';

/** Options every command receives (yargs globals). */
export interface GlobalArgs {
  root: string;
  debug: boolean;
  progress: ProgressMode;
  /** Fires on SIGINT/SIGTERM (set by main.ts). */
  signal?: AbortSignal;
}

/**
 * Returns the default store root: $TSBUILD_ROOT, else /var/lib/tsbuild for root,
 * else $XDG_DATA_HOME/tsbuild or ~/.local/share/tsbuild.
 */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TSBUILD_ROOT) return env.TSBUILD_ROOT;
  if (typeof process.getuid === 'function' && process.getuid() === 0) return '/var/lib/tsbuild';
  const xdg = env.XDG_DATA_HOME;
  return xdg ? join(xdg, 'tsbuild') : join(homedir(), '.local', 'share', 'tsbuild');
}

/** Returns the logger for `--debug` (stderr) or a silent one. */
export function loggerFor(args: Pick<GlobalArgs, 'debug'>): Logger {
  return args.debug ? stderrLogger() : noopLogger;
}

/** The exit status of a command whose output pipe closed (128 + SIGPIPE, as a process killed by it). */
export const EXIT_BROKEN_PIPE = 141;
let brokenPipe = false;

/** Whether stdout or stderr was closed by its reader during this command (then nothing more is written). */
export function outputClosed(): boolean {
  return brokenPipe;
}

/**
 * Returns an AbortSignal that fires on the first SIGINT or SIGTERM of this process; a second one exits at once
 * (130). Installed by main.ts before any command runs, so an early Ctrl-C still cleans up.
 */
export function installSignalHandlers(proc: NodeJS.Process = process): AbortSignal {
  const ac = new AbortController();
  // One signal is shared by every transfer and step of the command (many at once): not a listener leak.
  setMaxListeners(0, ac.signal);
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) proc.exit(130);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  proc.on('SIGINT', onSignal);
  proc.on('SIGTERM', onSignal);
  // A reader that went away (`tsbuild … | head`): stop the command as an interrupt would (steps end, mounts are
  // released, the store stays consistent) and leave without a stack trace or another write to the closed pipe.
  const onPipeError = (e: NodeJS.ErrnoException): void => {
    if (e.code !== 'EPIPE') throw e;
    brokenPipe = true;
    proc.exitCode = EXIT_BROKEN_PIPE;
    if (!ac.signal.aborted) ac.abort(new Error('output closed by its reader (broken pipe)'));
  };
  whenMade(proc, 'stdout', (s) => s.on('error', onPipeError));
  whenMade(proc, 'stderr', (s) => s.on('error', onPipeError));
  return ac.signal;
}

/**
 * Runs `f` on `proc[name]` when the command first reads it, or now if it is a plain value. Node makes
 * process.stdout and process.stderr on first read (a pipe's costs the net and stream modules, ~1.5 ms), and
 * many commands write only to one of them (`images`, `build -q`: stdout).
 */
function whenMade(proc: NodeJS.Process, name: 'stdout' | 'stderr', f: (s: NodeJS.WriteStream) => void): void {
  const d = Object.getOwnPropertyDescriptor(proc, name);
  if (!d?.get || !d.configurable) { f(proc[name]); return; }
  const get = d.get;
  Object.defineProperty(proc, name, {
    configurable: true,
    enumerable: d.enumerable ?? true,
    get(this: NodeJS.Process) {
      Object.defineProperty(proc, name, d); // Node's own getter again: it returns the stream it made
      const s = get.call(this) as NodeJS.WriteStream;
      f(s);
      return s;
    },
  });
}
