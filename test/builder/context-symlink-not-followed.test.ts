/** The context walk reports symlinks as symlinks and never follows them, least of all out of the context. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContextMatcher, selectSources, walkContext } from '../../builder/context/index.js';

test('a symlink to a directory outside the context is reported as a symlink, its target is not walked', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  const outside = await mkdtemp(join(tmpdir(), 'tsbuild-outside-'));
  t.after(() => rm(ctx, { recursive: true, force: true }));
  t.after(() => rm(outside, { recursive: true, force: true }));
  await writeFile(join(outside, 'secret'), 'do not send');
  await mkdir(join(ctx, 'dir'));
  await writeFile(join(ctx, 'dir', 'f'), 'x');
  await symlink(outside, join(ctx, 'escape'));
  await symlink('../../etc/passwd', join(ctx, 'dir', 'rel-escape'));
  const seen = [];
  for await (const e of walkContext(ctx, ContextMatcher.none)) seen.push([e.relPath, e.type, e.linkTarget]);
  assert.deepEqual(seen, [
    ['dir', 'dir', undefined],
    ['dir/f', 'file', undefined],
    ['dir/rel-escape', 'symlink', '../../etc/passwd'],
    ['escape', 'symlink', outside],
  ]);
});

test('COPY of a symlink source is resolved inside the context: an absolute target cannot escape it', async (t) => {
  const ctx = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  t.after(() => rm(ctx, { recursive: true, force: true }));
  await mkdir(join(ctx, 'etc'));
  await writeFile(join(ctx, 'etc', 'passwd'), 'context copy');
  await symlink('/etc/passwd', join(ctx, 'abs'));
  await symlink('../../../../etc/passwd', join(ctx, 'rel'));
  const sel = await selectSources(ctx, ['abs', 'rel'], ContextMatcher.none);
  assert.deepEqual(sel.sources.map((s) => [s.relPath, s.resolvedPath, s.type]), [
    ['abs', 'etc/passwd', 'file'],
    ['rel', 'etc/passwd', 'file'],
  ]);
  assert.deepEqual(sel.paths, ['etc/passwd']);
});
