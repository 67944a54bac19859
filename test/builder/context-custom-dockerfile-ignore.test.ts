/**
 * BuildKit reads `<Dockerfile>.dockerignore` next to a custom Dockerfile in preference to `<context>/.dockerignore`,
 * and reports when the patterns exclude the Dockerfile (still used for the build, but not copyable).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDockerignore } from '../../builder/context/index.js';

async function tmp(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return root;
}

test('<Dockerfile>.dockerignore next to a custom Dockerfile wins over <context>/.dockerignore', async (t) => {
  const ctx = await tmp(t);
  await mkdir(join(ctx, 'docker'));
  await writeFile(join(ctx, '.dockerignore'), 'from-context\n');
  await writeFile(join(ctx, 'docker', 'app.Dockerfile'), 'FROM scratch\n');
  await writeFile(join(ctx, 'docker', 'app.Dockerfile.dockerignore'), 'from-custom\n*.log\n');
  const di = await loadDockerignore(ctx, join(ctx, 'docker', 'app.Dockerfile'));
  assert.equal(di.file, join(ctx, 'docker', 'app.Dockerfile.dockerignore'));
  assert.deepEqual(di.patterns, ['from-custom', '*.log']);
  assert.equal(di.matcher.isExcluded('from-custom'), true);
  assert.equal(di.matcher.isExcluded('from-context'), false);
});

test('without a Dockerfile-specific file, <context>/.dockerignore applies; without either, nothing is excluded', async (t) => {
  const ctx = await tmp(t);
  await writeFile(join(ctx, 'other.Dockerfile'), 'FROM scratch\n');
  assert.equal((await loadDockerignore(ctx, join(ctx, 'other.Dockerfile'))).file, undefined);
  assert.equal((await loadDockerignore(ctx)).matcher.isExcluded('anything'), false);
  await writeFile(join(ctx, '.dockerignore'), 'from-context\n');
  const di = await loadDockerignore(ctx, join(ctx, 'other.Dockerfile'));
  assert.equal(di.file, join(ctx, '.dockerignore'));
  assert.equal(di.matcher.isExcluded('from-context'), true);
});

test('a Dockerfile outside the context still uses its own <name>.dockerignore', async (t) => {
  const ctx = await tmp(t);
  const elsewhere = await tmp(t);
  await writeFile(join(elsewhere, 'Dockerfile'), 'FROM scratch\n');
  await writeFile(join(elsewhere, 'Dockerfile.dockerignore'), 'secret\n');
  const di = await loadDockerignore(ctx, join(elsewhere, 'Dockerfile'));
  assert.equal(di.matcher.isExcluded('secret'), true);
  assert.equal(di.excludesDockerfile, false);
});

test('excludesDockerfile / excludesDockerignore flag patterns that exclude the build files themselves', async (t) => {
  const ctx = await tmp(t);
  await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\n');
  await writeFile(join(ctx, '.dockerignore'), 'Dockerfile\n.dockerignore\n');
  const di = await loadDockerignore(ctx, join(ctx, 'Dockerfile'));
  assert.equal(di.excludesDockerfile, true);
  assert.equal(di.excludesDockerignore, true);
  await writeFile(join(ctx, '.dockerignore'), '*.tmp\n');
  const ok = await loadDockerignore(ctx, join(ctx, 'Dockerfile'));
  assert.equal(ok.excludesDockerfile, false);
  assert.equal(ok.excludesDockerignore, false);
});
