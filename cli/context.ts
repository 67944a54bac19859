import { homedir } from 'node:os';
import { join } from 'node:path';
import { noopLogger, stderrLogger, type Logger } from '../layer-store/index.js';

export type ProgressMode = 'auto' | 'tty' | 'plain' | 'json' | 'quiet';

/** Options every command receives (yargs globals). */
export interface GlobalArgs {
  root: string;
  debug: boolean;
  progress: ProgressMode;
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
