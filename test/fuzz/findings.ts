/**
 * Where the fuzzer writes: the summary (bench/results/fuzz.md) and each failing input
 * (bench/results/fuzz-findings/<target>-<ms>.{txt,tar}), both under the git-ignored bench/results/.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toBytes, type FuzzOptions, type FuzzTarget } from './harness.js';

/** Returns the repository root: the nearest directory above this file with a package.json (else the cwd). */
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) return process.cwd();
    d = up;
  }
  return d;
}

/** Returns the directory the run summary (fuzz.md) is written to. */
export function resultsDir(): string {
  return join(repoRoot(), 'bench', 'results');
}

function findingsDir(o: FuzzOptions): string {
  return o.findingsDir ?? join(resultsDir(), 'fuzz-findings');
}

/** Writes a failing input's bytes to the findings directory; returns the file, or undefined if it could not be written. */
export function writeFinding(o: FuzzOptions, target: FuzzTarget, input: unknown): string | undefined {
  try {
    const dir = findingsDir(o);
    mkdirSync(dir, { recursive: true });
    const bytes = toBytes(input);
    const file = join(dir, `${target}-${Date.now()}.${target === 'tar' ? 'tar' : 'txt'}`);
    writeFileSync(file, bytes);
    return file;
  } catch {
    return undefined;
  }
}
