/**
 * `!` exceptions re-include paths beneath excluded directories (Docker enters the excluded dir and sends the
 * re-included files with their parent dirs), `**` matches any number of directories, and matching follows
 * moby/patternmatcher where the @balena/dockerignore port differs (case, regexp metacharacters, `**foo`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ContextMatcher, parseDockerignore, walkContext } from '../../builder/context/index.js';

async function mktree(t: { after(fn: () => Promise<void>): void }, files: readonly string[]): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'tsbuild-ctx-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  for (const f of files) {
    await mkdir(dirname(join(root, f)), { recursive: true });
    await writeFile(join(root, f), f);
  }
  return root;
}

async function walked(root: string, ignore: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of walkContext(root, new ContextMatcher(parseDockerignore(ignore)))) out.push(e.relPath);
  return out;
}

test('an exception re-includes a file inside an excluded directory, with its parent dirs', async (t) => {
  const root = await mktree(t, ['node_modules/a/index.js', 'node_modules/keep/index.js', 'node_modules/keep/extra.js', 'src/x.js']);
  assert.deepEqual(await walked(root, 'node_modules\n!node_modules/keep/index.js\n'), [
    'node_modules',
    'node_modules/keep',
    'node_modules/keep/index.js',
    'src',
    'src/x.js',
  ]);
});

test('an exception naming a directory re-includes everything beneath it', async (t) => {
  const root = await mktree(t, ['vendor/a/1', 'vendor/b/2', 'vendor/b/c/3']);
  assert.deepEqual(await walked(root, 'vendor\n!vendor/b\n'), ['vendor', 'vendor/b', 'vendor/b/2', 'vendor/b/c', 'vendor/b/c/3']);
});

test('a wildcard exception is searched for in every excluded directory', async (t) => {
  const root = await mktree(t, ['a/b/keep.txt', 'a/b/drop.bin', 'c/keep.txt', 'c/d.bin']);
  assert.deepEqual(await walked(root, '*\n!**/*.txt\n'), ['a', 'a/b', 'a/b/keep.txt', 'c', 'c/keep.txt']);
});

test('everything excluded except one file (the "allow list" idiom)', async (t) => {
  const root = await mktree(t, ['Dockerfile', 'app/main.py', 'app/test/t.py', 'secret.env']);
  assert.deepEqual(await walked(root, '*\n!app\napp/test\n'), ['app', 'app/main.py']);
});

test('** matches zero or more directories, in the middle and at the end', async (t) => {
  const root = await mktree(t, ['a/x/b/f', 'a/b/g', 'a/x/y/b/h', 'a/c', 'logs/1/2.log', 'logs/top.log', 'z.log']);
  assert.deepEqual(await walked(root, 'a/**/b\n'), ['a', 'a/c', 'a/x', 'a/x/y', 'logs', 'logs/1', 'logs/1/2.log', 'logs/top.log', 'z.log']);
  assert.deepEqual(await walked(root, 'logs/**\n'), ['a', 'a/b', 'a/b/g', 'a/c', 'a/x', 'a/x/b', 'a/x/b/f', 'a/x/y', 'a/x/y/b', 'a/x/y/b/h', 'logs', 'z.log']);
  assert.deepEqual(await walked(root, '**/*.log\n'), ['a', 'a/b', 'a/b/g', 'a/c', 'a/x', 'a/x/b', 'a/x/b/f', 'a/x/y', 'a/x/y/b', 'a/x/y/b/h', 'logs', 'logs/1']);
});

test('matching is case-sensitive and treats + ( ) | { } as literal characters (moby; not @balena/dockerignore)', () => {
  const m = new ContextMatcher(parseDockerignore('README.md\nc++/a+b.txt\n(x)|y\n{z}\n'));
  assert.equal(m.isExcluded('README.md'), true);
  assert.equal(m.isExcluded('readme.md'), false);
  assert.equal(m.isExcluded('c++/a+b.txt'), true);
  assert.equal(m.isExcluded('cc/aab.txt'), false);
  assert.equal(m.isExcluded('(x)|y'), true);
  assert.equal(m.isExcluded('x'), false);
  assert.equal(m.isExcluded('{z}'), true);
});

test('a leading ** followed by a literal is a suffix match (moby: "**foo" matches "barfoo")', () => {
  const m = new ContextMatcher(parseDockerignore('**foo\n'));
  assert.equal(m.isExcluded('barfoo'), true);
  assert.equal(m.isExcluded('a/barfoo'), true);
  assert.equal(m.isExcluded('foobar'), false);
  const n = new ContextMatcher(parseDockerignore('**/foo\n'));
  assert.equal(n.isExcluded('foo'), true);
  assert.equal(n.isExcluded('a/b/foo'), true);
  assert.equal(n.isExcluded('a/barfoo'), false);
});

test('character classes and escapes follow Go filepath.Match', () => {
  const m = new ContextMatcher(parseDockerignore('file[0-9].txt\nx[^a]y\nstar\\*\n'));
  assert.equal(m.isExcluded('file7.txt'), true);
  assert.equal(m.isExcluded('filex.txt'), false);
  assert.equal(m.isExcluded('xby'), true);
  assert.equal(m.isExcluded('xay'), false);
  assert.equal(m.isExcluded('star*'), true);
  assert.equal(m.isExcluded('starx'), false);
});

test('a lone "!" and a malformed class are errors with code CONTEXT', () => {
  assert.throws(() => new ContextMatcher(['!']), { code: 'CONTEXT' });
  assert.throws(() => new ContextMatcher(['file[0-9.txt']), { code: 'CONTEXT' });
});
