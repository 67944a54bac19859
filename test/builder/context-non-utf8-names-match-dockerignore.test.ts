/**
 * .dockerignore patterns and COPY wildcards are UTF-8 text; they still match names that are not UTF-8, one byte
 * per `?` (Go's filepath.Match reads each stray byte as one rune), and the walk reports those names exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContextMatcher, parseDockerignore, selectSources, walkContext } from '../../builder/context/index.js';
import { encodeName } from '../../layer-store/index.js';

const B = (s: string): Buffer => Buffer.from(s, 'latin1'); // each char one byte: '\xe9' is the byte 0xe9
const shown = (rel: string): string => encodeName(rel).toString('latin1');

function tree(t: { after(fn: () => void): void }): string {
  const root = mkdtempSync(join(tmpdir(), 'tsbuild-ctx-names-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const at = (rel: string): Buffer => Buffer.concat([B(`${root}/`), B(rel)]);
  writeFileSync(at('caf\xe9.txt'), 'x');
  writeFileSync(at('café.txt'.replace('é', '\xc3\xa9')), 'utf8'); // the valid UTF-8 spelling
  writeFileSync(at('other.bin'), 'o');
  mkdirSync(at('d\xff\xfe'));
  writeFileSync(at('d\xff\xfe/n\x80.bin'), 'y');
  writeFileSync(at('d\xff\xfe/keep.txt'), 'k');
  return root;
}

async function walked(root: string, ignore: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of walkContext(root, new ContextMatcher(parseDockerignore(ignore)))) out.push(shown(e.relPath));
  return out;
}

test('every name is walked with its exact bytes, in byte order', async (t) => {
  const root = tree(t);
  assert.deepEqual(await walked(root, ''), ['caf\xc3\xa9.txt', 'caf\xe9.txt', 'd\xff\xfe', 'd\xff\xfe/keep.txt', 'd\xff\xfe/n\x80.bin', 'other.bin']);
});

test('*.txt and caf* exclude a Latin-1 name as they exclude its UTF-8 spelling', async (t) => {
  const root = tree(t);
  assert.deepEqual(await walked(root, '*.txt'), ['d\xff\xfe', 'd\xff\xfe/keep.txt', 'd\xff\xfe/n\x80.bin', 'other.bin']);
  assert.deepEqual(await walked(root, 'caf*'), ['d\xff\xfe', 'd\xff\xfe/keep.txt', 'd\xff\xfe/n\x80.bin', 'other.bin']);
  // `?` is one byte of a non-UTF-8 name: d?? matches d\xff\xfe (and its contents); an exception re-includes one file
  assert.deepEqual(await walked(root, 'd??\n!d??/keep.txt'), ['caf\xc3\xa9.txt', 'caf\xe9.txt', 'd\xff\xfe', 'd\xff\xfe/keep.txt', 'other.bin']);
  assert.deepEqual(await walked(root, '**/n?.bin'), ['caf\xc3\xa9.txt', 'caf\xe9.txt', 'd\xff\xfe', 'd\xff\xfe/keep.txt', 'other.bin']);
});

test('a COPY wildcard selects names that are not UTF-8', async (t) => {
  const root = tree(t);
  // `?` is one character: the é of the UTF-8 spelling, or the one stray byte \xe9 (as in Go)
  const sel = await selectSources(root, ['caf?.txt', 'd*/n*'], ContextMatcher.none);
  assert.deepEqual(sel.sources.map((s) => shown(s.relPath)), ['caf\xc3\xa9.txt', 'caf\xe9.txt', 'd\xff\xfe/n\x80.bin']);
  assert.deepEqual(sel.paths.map(shown), ['caf\xc3\xa9.txt', 'caf\xe9.txt', 'd\xff\xfe/n\x80.bin']);
  assert.ok(sel.sources.every((s) => s.entries[0]?.stat.isFile()));
});
