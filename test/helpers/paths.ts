import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Returns the repository root (the nearest directory above this file holding package.json). */
export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('repository root not found');
    d = up;
  }
  return d;
}

/** Returns the path of the shared conformance data (../shared/conformance next to the repo, or fixtures copy). */
export function conformanceDir(): string {
  const inRepo = join(repoRoot(), 'fixtures', 'conformance');
  if (existsSync(inRepo)) return inRepo;
  return join(repoRoot(), '..', 'shared', 'conformance');
}
