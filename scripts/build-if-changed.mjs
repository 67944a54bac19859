// `npm run build`, unless dist/ was built from exactly these inputs: `npm run setup` builds, and `npm test` right
// after it (what CI runs) no longer builds a second time. The inputs are every file tsc and the bundle read from
// the checkout (the TypeScript under tsconfig's include, tsconfig.json, package.json, package-lock.json, the
// bundle scripts) and node's version; their SHA-256, with each path, is kept in dist/.build-inputs after a
// successful build. A changed, added or removed file changes it, so stale output is never reused; a failed build
// leaves no stamp (`npm run build` starts with rm -rf dist).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const STAMP = 'dist/.build-inputs';

function tsFiles(dir, out) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) tsFiles(p, out);
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function inputsDigest() {
  const tsconfig = JSON.parse(readFileSync('tsconfig.json', 'utf8'));
  const roots = tsconfig.include.map((g) => g.split('/')[0]);
  const files = roots.flatMap((r) => (existsSync(r) ? tsFiles(r, []) : []));
  files.push('tsconfig.json', 'package.json', 'package-lock.json', 'scripts/bundle.mjs', 'scripts/cjs-chunks.mjs');
  const h = createHash('sha256').update(`node ${process.version}\n`);
  for (const f of [...new Set(files)].sort()) {
    h.update(`${f}\n`);
    h.update(existsSync(f) ? createHash('sha256').update(readFileSync(f)).digest('hex') : 'missing');
    h.update('\n');
  }
  return h.digest('hex');
}

const want = inputsDigest();
if (existsSync(STAMP) && readFileSync(STAMP, 'utf8').trim() === want) {
  console.error('build: dist/ is current (built from these sources, lock file and node); not building again');
} else {
  execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
  writeFileSync(STAMP, `${want}\n`);
}
