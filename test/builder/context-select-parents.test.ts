/**
 * COPY --parents selection (BuildKit's include patterns): the pivot, `*` per component, `**` across directories,
 * classes, a matched directory's contents, the directories above a match, and the pruned walk (a tree that cannot
 * match is not entered, one that can is).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ContextMatcher, parseDockerignore, selectParentsSources, splitPivot } from '../../builder/context/index.js';

async function mktree(t: { after(fn: () => Promise<void>): void }, files: readonly string[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-parents-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (const f of files) {
    await mkdir(dirname(join(root, f)), { recursive: true });
    await writeFile(join(root, f), f);
  }
  return root;
}

const TREE = [
  'packages/a/package.json', 'packages/a/src/x.ts', 'packages/a/node_modules/dep/package.json',
  'packages/b/package.json', 'packages/b/lib/deep/package.json', 'packages/c1/package.json', 'top.json',
];

test('splitPivot cuts at the first /./ and cleans both parts', () => {
  assert.deepEqual(splitPivot('/test/a/./b/./c'), { base: 'test/a', pattern: 'b/c' });
  assert.deepEqual(splitPivot('./test/a/b'), { base: '.', pattern: 'test/a/b' });
  assert.deepEqual(splitPivot('/test/a/b/.'), { base: '.', pattern: 'test/a/b' });
  assert.deepEqual(splitPivot('/./x'), { base: '.', pattern: 'x' });
});

test('* stays in one component, ** spans directories, a class picks names; parents come along', async (t) => {
  const ctx = await mktree(t, TREE);
  const one = await selectParentsSources(ctx, ['packages/*/package.json'], ContextMatcher.none);
  assert.deepEqual(one.paths, ['packages', 'packages/a', 'packages/a/package.json', 'packages/b', 'packages/b/package.json', 'packages/c1', 'packages/c1/package.json']);
  const any = await selectParentsSources(ctx, ['packages/./**/package.json'], ContextMatcher.none);
  assert.deepEqual(any.sources.map((s) => s.resolvedPath), ['packages']);
  assert.deepEqual(any.paths, [
    'packages/a', 'packages/a/node_modules', 'packages/a/node_modules/dep', 'packages/a/node_modules/dep/package.json',
    'packages/a/package.json', 'packages/b', 'packages/b/lib', 'packages/b/lib/deep', 'packages/b/lib/deep/package.json',
    'packages/b/package.json', 'packages/c1', 'packages/c1/package.json',
  ]);
  const cls = await selectParentsSources(ctx, ['packages/[ab]/package.json'], ContextMatcher.none);
  assert.deepEqual(cls.paths, ['packages', 'packages/a', 'packages/a/package.json', 'packages/b', 'packages/b/package.json']);
});

test('a matched directory brings its contents; .dockerignore still applies', async (t) => {
  const ctx = await mktree(t, TREE);
  const sel = await selectParentsSources(ctx, ['packages/a*'], new ContextMatcher(parseDockerignore('**/node_modules\n')));
  assert.deepEqual(sel.paths, ['packages', 'packages/a', 'packages/a/package.json', 'packages/a/src', 'packages/a/src/x.ts']);
});

test('an empty match selects the empty base; a base wildcard matching nothing selects nothing', async (t) => {
  const ctx = await mktree(t, TREE);
  const empty = await selectParentsSources(ctx, ['packages/./*/none'], ContextMatcher.none);
  assert.deepEqual(empty.sources.map((s) => [s.resolvedPath, s.entries.length]), [['packages', 0]]);
  const none = await selectParentsSources(ctx, ['nope*/./x'], ContextMatcher.none);
  assert.deepEqual(none.sources, []);
  await assert.rejects(selectParentsSources(ctx, ['packages/./a/missing'], ContextMatcher.none), /"\/packages\/a\/missing": not found/);
});
