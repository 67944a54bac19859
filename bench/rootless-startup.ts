/**
 * The start-up cost of rootless mode: `tsbuild images` on an empty store, N times each, interleaved in one run,
 * as root (bin/tsbuild), and as an unprivileged user with subordinate ids (made here and removed afterwards)
 * through the launcher's fast path (bin/tsbuild runs unshare: one Node start) and the Node way
 * (`node dist/bin/tsbuild.mjs`: Node decides, then starts again inside unshare, as before the fast path).
 * Prints the median and ratios against root. Needs root, useradd and newuidmap.
 *
 *   node dist/bench/rootless-startup.js [--runs N]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRootlessUser, rootlessSkip } from '../test/helpers/rootless-user.js';
import { repoRoot } from '../test/helpers/paths.js';
import { BenchError } from './errors.js';

/** Runs `cmd args` and returns its wall time in seconds; throws on a non-zero exit. */
function timed(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) reject(new BenchError('IO', `${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`, 'run it by hand to see why'));
      else resolve(Number(process.hrtime.bigint() - t0) / 1e9);
    });
  });
}

const median = (xs: readonly number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };

async function main(): Promise<void> {
  const i = process.argv.indexOf('--runs');
  const runs = i > 0 ? Number(process.argv[i + 1]) : 20;
  const skip = rootlessSkip();
  if (skip) throw new BenchError('RUNTIME_MISSING', `rootless start-up: ${skip}`, 'run as root with uidmap installed');
  const user = await makeRootlessUser();
  const rootStore = mkdtempSync(join(tmpdir(), 'tsbuild-bench-rootless-'));
  try {
    const base = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
    const bundle = join(user.launcher, '..', '..', 'dist', 'bin', 'tsbuild.mjs');
    const asUser = (cmd: string, args: string[]) => ['runuser', ['-u', user.name, '--', 'env', '-i', `PATH=${base.PATH}`, `HOME=${user.home}`, `USER=${user.name}`, cmd, ...args]] as const;
    const rows: [string, readonly [string, readonly string[]]][] = [
      ['root: bin/tsbuild images', [join(repoRoot(), 'bin', 'tsbuild'), ['--root', rootStore, 'images']]],
      ['rootless, launcher fast path: bin/tsbuild images', asUser(user.launcher, ['images'])],
      ['rootless, Node way: node dist/bin/tsbuild.mjs images', asUser('node', [bundle, 'images'])],
      // runuser itself, to take out of the rootless rows
      ['runuser -u USER -- true', asUser('true', [])],
    ];
    const times: number[][] = rows.map(() => []);
    for (let r = 0; r < runs + 1; r++) {
      for (const [k, [, [cmd, args]]] of rows.entries()) {
        const t = await timed(cmd, args, base);
        if (r > 0) times[k]!.push(t); // the first round warms the page cache
      }
    }
    const m = times.map(median);
    const runuser = m[3]!;
    console.log(`tsbuild images, median of ${runs}, interleaved (runuser's own ${(runuser * 1000).toFixed(0)} ms taken off the rootless rows):`);
    for (const [k, [label]] of rows.slice(0, 3).entries()) {
      const t = k === 0 ? m[0]! : m[k]! - runuser;
      console.log(`  ${label.padEnd(56)} ${(t * 1000).toFixed(0).padStart(6)} ms   ${(t / m[0]!).toFixed(2)}× root`);
    }
  } finally {
    rmSync(rootStore, { recursive: true, force: true });
    await user.cleanup();
  }
}

main().catch((e: unknown) => { console.error(`error: ${e instanceof Error ? e.message : String(e)}`); process.exitCode = 1; });
