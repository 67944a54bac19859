import { spawn } from 'node:child_process';
import type { CommandResult, CommandRunner } from '../layer-store/core/index.js';

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs each command with its own spawn. LC_ALL=C: messages we match stay English, and the C library loads no
 * locale files.
 */
export function directRunner(): CommandRunner {
  return {
    run: (cmd, args, o = {}) => new Promise<CommandResult>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' }, ...(o.cwd ? { cwd: o.cwd } : {}) });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (b: Buffer) => out.push(b));
      child.stderr!.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code, sig) => resolve({ code: code ?? 128 + (sig ? signalNumber(sig) : 0), stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') }));
      if (o.input !== undefined) {
        child.stdin!.on('error', () => undefined);
        child.stdin!.end(o.input);
      }
    }),
  };
}

/**
 * Runs a helper command to completion and returns its exit code and output (never rejects on exit code). With
 * `o.commands` (a ShellRunner), the command is forked by that runner instead of by this process.
 */
export async function execCapture(cmd: string, args: readonly string[], o: { cwd?: string; commands?: CommandRunner | undefined } = {}): Promise<ExecResult> {
  const r = await (o.commands ?? directRunner()).run(cmd, args, o.cwd ? { cwd: o.cwd } : {});
  return { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr };
}

const SIGNALS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

/** Returns the number of a signal name (0 when unknown). */
export function signalNumber(sig: string): number {
  return SIGNALS[sig] ?? 0;
}
