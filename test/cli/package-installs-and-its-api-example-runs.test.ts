import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

// `npm pack` of this checkout (built by `npm test`), installed into an empty project as a user would.
let dir: string;
let project: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsbuild-pack-'));
  project = join(dir, 'project');
  await mkdir(project);
  execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: repoRoot(), stdio: 'pipe' });
  const tgz = (await readdir(dir)).find((f) => f.endsWith('.tgz'))!;
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'uses-tsbuild', version: '1.0.0', type: 'module', private: true }));
  execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, tgz)], { cwd: project, stdio: 'pipe' });
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the packed tarball ships the library, its types and the executable, and no tests', async () => {
  const pkg = join(project, 'node_modules', 'tsbuild');
  const listed = execFileSync('find', ['.', '-type', 'f'], { cwd: pkg, encoding: 'utf8' }).split('\n');
  assert.ok(listed.includes('./dist/cli/api.js') && listed.includes('./dist/cli/api.d.ts') && listed.includes('./dist/bin/tsbuild.mjs'));
  assert.ok(listed.includes('./runtime-exec/seccomp-default.json'), 'the seccomp profile RUN steps load at run time');
  assert.ok(!listed.some((f) => f.startsWith('./dist/test/') || f.startsWith('./dist/bench/') || f.endsWith('.map')), 'no tests, benchmarks or source maps');
  const out = execFileSync('node', ['--input-type=module', '-e', "const m = await import('tsbuild'); console.log(typeof m.build, typeof m.LayerStore.open, typeof m.parseDockerfile)"], { cwd: project, encoding: 'utf8' });
  assert.equal(out.trim(), 'function function function');
});

test('npx tsbuild --help runs the installed executable', () => {
  const r = spawnSync('npx', ['--no-install', 'tsbuild', '--help'], { cwd: project, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /build an image from a Dockerfile/);
});

test("the README's API example compiles against the installed types and builds an image", async () => {
  const readme = await readFile(join(repoRoot(), 'README.md'), 'utf8');
  const m = /<!-- api-example[^\n]*-->\n```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'the README has the api-example block');
  await writeFile(join(project, 'example.ts'), m[1]!);
  await writeFile(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: false, outDir: 'out',
      skipLibCheck: false, typeRoots: [join(repoRoot(), 'node_modules', '@types')], types: ['node'],
    },
    files: ['example.ts'],
  }));
  const tsc = spawnSync('node', [join(repoRoot(), 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], { cwd: project, encoding: 'utf8' });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  // A FROM scratch build needs no base image and no runc: the example runs end to end.
  const ctx = join(dir, 'ctx');
  await mkdir(ctx);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY hello.txt /\n');
  await writeFile(join(ctx, 'hello.txt'), 'hello\n');
  const r = spawnSync('node', [join(project, 'out', 'example.js'), join(dir, 'root'), ctx], { cwd: project, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^built sha256:[0-9a-f]{64}: 0\/1 steps cached\n$/);
});
