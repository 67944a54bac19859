import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The compiled `tsbuild` CLI of this checkout, as a Node script (`node TSBUILD_BIN ARGS…`). */
export const TSBUILD_BIN = join(repoRoot(), 'bin', 'tsbuild.js');
/** The `tsbuild` executable users run (package.json "bin"): a launcher that execs node on the bundle. */
export const TSBUILD_LAUNCHER = join(repoRoot(), 'bin', 'tsbuild');

/** Runs `tsbuild ARGS…` in a child process (as a user would) and returns its exit code and output. */
export function runCli(args: readonly string[], o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliResult {
  const r = spawnSync(TSBUILD_LAUNCHER, args, { encoding: 'utf8', env: o.env ?? process.env, ...(o.cwd ? { cwd: o.cwd } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * runCli without blocking this process's event loop: for tests whose servers (a fault proxy, a token server)
 * run in the test process and must answer the CLI meanwhile.
 */
export function runCliAsync(args: readonly string[], o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSBUILD_LAUNCHER, args, { env: o.env ?? process.env, ...(o.cwd ? { cwd: o.cwd } : {}), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Returns the error line of a failed run, asserting that stderr holds exactly that one line (`error: …`):
 * what failed, where and what to do, with no stack, no second line and no progress around it.
 */
export function onlyErrorLine(r: CliResult): string {
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  if (lines.length !== 1 || !lines[0]!.startsWith('error: ')) {
    throw new Error(`expected one "error:" line on stderr, got ${lines.length}:\n${r.stderr}`);
  }
  return lines[0]!;
}
