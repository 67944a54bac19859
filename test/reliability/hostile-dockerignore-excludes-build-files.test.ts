import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';

test('a .dockerignore that excludes the Dockerfile and itself: the build still works, COPY . copies neither (docker\'s behaviour)', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'tsbuild-ignore-self-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const ctx = join(work, 'ctx');
  await mkdir(join(ctx, 'sub'), { recursive: true });
  await writeFile(join(ctx, '.dockerignore'), 'Dockerfile\n.dockerignore\n**/*.key\n');
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY . /ctx/\n');
  await writeFile(join(ctx, 'keep.txt'), 'kept\n');
  await writeFile(join(ctx, 'sub', 'id.key'), 'private\n');
  const out = join(work, 'out');
  const r = runCli(['--root', join(work, 'root'), '--progress', 'plain', 'build', '-t', 'ignself:1', '--output', `type=local,dest=${out}`, ctx]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /\.dockerignore excludes the Dockerfile/, 'the user is told');
  assert.deepEqual((await readdir(join(out, 'ctx'), { recursive: true })).sort(), ['keep.txt', 'sub']);

  // Naming an excluded build file explicitly is an error that names the pattern.
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY Dockerfile /Dockerfile\n');
  const e = runCli(['--root', join(work, 'root'), '--progress', 'plain', 'build', '-t', 'ignself:2', ctx]);
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, /excluded by \.dockerignore \(pattern "Dockerfile"\)/);
});
