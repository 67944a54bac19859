/** COPY/ADD source selection: wildcards as Go filepath.Match, directories mean their contents, .dockerignore applies. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ContextMatcher, parseDockerignore, selectSources } from '../../builder/context/index.js';
import { TsbuildError } from '../../layer-store/core/index.js';

async function mktree(t: { after(fn: () => Promise<void>): void }, files: readonly string[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (const f of files) {
    await mkdir(dirname(join(root, f)), { recursive: true });
    await writeFile(join(root, f), f);
  }
  return root;
}

const TREE = ['package.json', 'package-lock.json', 'src/a.ts', 'src/b.ts', 'src/lib/c.ts', 'src/lib/c.test.ts', 'notes.txt', 'f1', 'f2', 'fx', 'secret.env'];
const m = (s: string): ContextMatcher => new ContextMatcher(parseDockerignore(s));

test('a wildcard source selects matching names in one directory level', async (t) => {
  const ctx = await mktree(t, TREE);
  const sel = await selectSources(ctx, ['package*.json', 'f[0-9]', 'src/*.ts', 'n?tes.txt'], ContextMatcher.none);
  assert.deepEqual(sel.sources.map((s) => s.relPath), ['package-lock.json', 'package.json', 'f1', 'f2', 'src/a.ts', 'src/b.ts', 'notes.txt']);
  assert.deepEqual(sel.paths, ['f1', 'f2', 'notes.txt', 'package-lock.json', 'package.json', 'src/a.ts', 'src/b.ts']);
});

test('a directory source selects the directory and its contents, minus .dockerignore', async (t) => {
  const ctx = await mktree(t, TREE);
  const sel = await selectSources(ctx, ['src/'], m('**/*.test.ts\n'));
  assert.deepEqual(sel.paths, ['src', 'src/a.ts', 'src/b.ts', 'src/lib', 'src/lib/c.ts']);
  assert.equal(sel.sources[0]?.type, 'dir');
});

test('"." selects the whole context minus .dockerignore; leading / and .. cannot leave the context', async (t) => {
  const ctx = await mktree(t, TREE);
  const sel = await selectSources(ctx, ['.'], m('src\n*.env\n'));
  assert.deepEqual(sel.paths, ['f1', 'f2', 'fx', 'notes.txt', 'package-lock.json', 'package.json']);
  const up = await selectSources(ctx, ['../../notes.txt', '/f1'], ContextMatcher.none);
  assert.deepEqual(up.paths, ['f1', 'notes.txt']);
});

test('a wildcard matching nothing selects nothing (BuildKit allows empty wildcards)', async (t) => {
  const ctx = await mktree(t, TREE);
  assert.deepEqual((await selectSources(ctx, ['*.nothing'], ContextMatcher.none)).paths, []);
  assert.deepEqual((await selectSources(ctx, ['*.env'], m('secret.env\n'))).paths, []);
});

test('a missing source is a CONTEXT error that names it', async (t) => {
  const ctx = await mktree(t, TREE);
  await assert.rejects(selectSources(ctx, ['nope.txt'], ContextMatcher.none), (e) => {
    assert.ok(TsbuildError.is(e));
    assert.equal(e.code, 'CONTEXT');
    assert.match(e.message, /"nope\.txt" not found/);
    assert.ok(e.hint);
    return true;
  });
});

test('a source excluded by .dockerignore is a CONTEXT error that says so and names the pattern', async (t) => {
  const ctx = await mktree(t, TREE);
  await assert.rejects(selectSources(ctx, ['secret.env'], m('*.env\n')), (e) => {
    assert.ok(TsbuildError.is(e));
    assert.equal(e.code, 'CONTEXT');
    assert.match(e.message, /is excluded by \.dockerignore \(pattern "\*\.env"\)/);
    return true;
  });
  await assert.rejects(selectSources(ctx, ['src/lib/c.ts'], m('src\n')), /excluded by \.dockerignore/);
});
