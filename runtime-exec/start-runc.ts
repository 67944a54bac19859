/**
 * Starting `runc run` for RuncRuntime, tied so that it cannot outlive this process (supervisor.ts), in the
 * cheapest way the run allows:
 *
 * - a build's step (a helper shell to tie it to, no stdin, no terminal): the helper shell runs it
 *   (ShellRunner.runStreaming), its output read from the shell's output files as it comes: no fork of this
 *   process (a fork of a ~70 MB Node process is ~2-6 ms of blocked main thread), no process but runc's own;
 * - the same when the shell cannot take the command (its disk full): spawned directly (tiedRunc);
 * - `tsbuild run` (stdin, a terminal) or no helper shell: under a supervisor shell of its own (superviseRunc).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { shQuote, type ShellRunner } from './commands.js';
import { ContainerStartError } from './errors.js';
import { signalNumber } from './exec.js';
import { RUNC_PID_FILE, superviseRunc, tiedRunc } from './supervisor.js';
import type { RunIO } from './types.js';

export interface StartedRunc {
  /** runc's exit status (128+N when killed by signal N); rejects with ContainerStartError when it did not start. */
  readonly exit: Promise<number>;
  /** Settles once all of its output has been handed to io.stdout and io.stderr. */
  readonly output: Promise<unknown>;
  /** True once `runc run` has exited. */
  exited(): boolean;
  /** SIGKILLs `runc run` (and a supervisor, when there is one): the last resort of an abort. */
  killGroup(): void;
  /** Sends `sig` to `runc run` (SIGWINCH: the container's terminal is resized). */
  signalGroup(sig: NodeJS.Signals): void;
  /** Undoes what starting it set up (stdin, terminal size, the supervisor's tie); call once it has exited. */
  close(): void;
}

export interface StartRuncOptions {
  readonly runc: string;
  readonly root?: string | undefined;
  readonly id: string;
  readonly bundle: string;
  /** The arguments after runc's global ones: `--log … run --bundle … <id>`. */
  readonly runArgs: readonly string[];
  readonly io: RunIO;
  readonly terminal: boolean;
  /** The build's helper shell the run is tied to (its exit script registered): set only without stdin and terminal. */
  readonly shell?: ShellRunner | undefined;
}

/** Starts `runc [--root root] <runArgs>` (see the file comment for how). */
export function startRunc(o: StartRuncOptions): StartedRunc {
  const viaShell = o.shell ? inShell(o, o.shell) : undefined;
  if (viaShell) return viaShell;
  const sup = o.shell
    ? tiedRunc({ runc: o.runc, root: o.root, bundle: o.bundle, runArgs: o.runArgs })
    : superviseRunc({ runc: o.runc, root: o.root, id: o.id, bundle: o.bundle, runArgs: o.runArgs, stdin: o.io.stdin !== undefined, terminal: o.terminal });
  const child = sup.child;
  const undo: (() => void)[] = [];
  if (o.terminal) {
    // runc is in the supervisor's session, not the terminal's: the terminal's size changes reach us only.
    const onWinch = (): void => sup.signalGroup('SIGWINCH');
    process.on('SIGWINCH', onWinch);
    undo.push(() => { process.off('SIGWINCH', onWinch); });
  } else if (o.io.stdin) {
    // The process may exit before reading all of it: an EPIPE then is not an error of the run.
    const into = child.stdio[4] as Writable;
    into.on('error', () => undefined);
    o.io.stdin.pipe(into);
    undo.push(() => { o.io.stdin?.unpipe(into); into.destroy(); });
  }
  undo.push(() => { child.stdin?.destroy(); }); // the supervisor's tie, closed only once it has exited
  let exited = false;
  const exit = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => {
      exited = true;
      reject(new ContainerStartError(`cannot start ${o.runc}: ${e.message}`, { cause: e }));
    });
    child.on('exit', (code, sig) => {
      exited = true;
      resolve(code ?? 128 + (sig ? signalNumber(sig) : 0));
    });
  });
  const output = Promise.all([
    child.stdout ? pipeline(child.stdout, o.io.stdout, { end: false }) : undefined,
    child.stderr ? pipeline(child.stderr, o.io.stderr, { end: false }) : undefined,
  ]);
  return {
    exit, output, exited: () => exited, killGroup: () => sup.killGroup(), signalGroup: (sig) => sup.signalGroup(sig),
    close: () => { for (const u of undo.reverse()) u(); },
  };
}

/**
 * `runc run` as a command of the helper shell, stdin /dev/null, its pid written to the bundle's runc.pid (for
 * killGroup and the step's exit script); undefined when the shell cannot take it.
 */
function inShell(o: StartRuncOptions, shell: ShellRunner): StartedRunc | undefined {
  const pidFile = join(o.bundle, RUNC_PID_FILE);
  const words = [o.runc, ...(o.root ? ['--root', o.root] : []), ...o.runArgs].map(shQuote).join(' ');
  const status = shell.runStreaming(`${words} </dev/null & echo $! >${shQuote(pidFile)}; wait $!`, (stream, data) => {
    (stream === 'stdout' ? o.io.stdout : o.io.stderr).write(data);
  });
  if (!status) return undefined;
  let exited = false;
  const exit = status.then(
    (code) => { exited = true; return code; },
    (e: unknown) => {
      exited = true;
      throw new ContainerStartError(`cannot run ${o.runc} in the helper shell: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    },
  );
  const signalPid = (sig: NodeJS.Signals): void => {
    try {
      const pid = Number(readFileSync(pidFile, 'utf8'));
      if (pid > 0) process.kill(pid, sig);
    } catch {
      // not started yet, or gone
    }
  };
  return {
    exit, output: exit.catch(() => undefined), exited: () => exited,
    killGroup: () => signalPid('SIGKILL'), signalGroup: signalPid, close: () => undefined,
  };
}
