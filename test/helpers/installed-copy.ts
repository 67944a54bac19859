import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/**
 * A copy of the installed layout (bin/tsbuild, dist/bin without its code caches and startup snapshots, package.json) in a temporary
 * directory removed after the test: the V8 code caches its runs write are the test's own.
 */
export function installedCopy(t: { after: (fn: () => void) => void }, prefix: string): { dir: string; bin: string; chunks: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const repo = repoRoot();
  cpSync(join(repo, 'bin'), join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'dist'));
  cpSync(join(repo, 'dist', 'bin'), join(dir, 'dist', 'bin'), { recursive: true, filter: (s) => !/\.(v8-cache|snapshot|blob)$/.test(s) });
  cpSync(join(repo, 'package.json'), join(dir, 'package.json'));
  return { dir, bin: join(dir, 'bin', 'tsbuild'), chunks: join(dir, 'dist', 'bin') };
}
