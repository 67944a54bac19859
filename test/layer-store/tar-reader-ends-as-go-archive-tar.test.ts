// TarReader's `end: 'go'` (ADD's extraction, as BuildKit's untar with Go's archive/tar): a clean EOF at a header or
// padding boundary, one zero block then EOF, or two zero blocks end the archive; a partial block after a zero
// block, a zero block followed by a header, and a short body fail. The default ('lenient') ends at the first zero block.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { encodeHeader, END_OF_ARCHIVE, InvalidLayerError, padding, TarReader } from '../../layer-store/index.js';
import { tmp } from './layer-test-kit.js';

function entry(name: string, body: string): Buffer {
  const b = Buffer.from(body);
  return Buffer.concat([encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: b.length, mtime: 0 }), b, padding(b.length)]);
}

async function names(bytes: Buffer, end: 'lenient' | 'go'): Promise<string[]> {
  const r = new TarReader(Readable.from([bytes]), { end });
  const out: string[] = [];
  for (let h = await r.next(); h !== null; h = await r.next()) out.push(h.name);
  return out;
}

const a = entry('a', 'Hi');
const b = entry('b', 'there');

test('Go ends: two zero blocks, one zero block then EOF, EOF at a header, EOF instead of padding', async () => {
  for (const end of ['lenient', 'go'] as const) {
    assert.deepEqual(await names(Buffer.concat([a, b, END_OF_ARCHIVE]), end), ['a', 'b']);
    assert.deepEqual(await names(Buffer.concat([a, b, END_OF_ARCHIVE.subarray(0, 512)]), end), ['a', 'b']);
    assert.deepEqual(await names(Buffer.concat([a, b]), end), ['a', 'b']);
    assert.deepEqual(await names(Buffer.concat([a, b, END_OF_ARCHIVE, Buffer.from('trailing garbage')]), end), ['a', 'b']);
  }
  // No padding at all after the last body: Go's tryReadFull reads nothing, which is its clean EOF.
  assert.deepEqual(await names(Buffer.concat([a, b.subarray(0, 512 + 5)]), 'go'), ['a', 'b']);
});

test('Go fails where the lenient reader stops at the first zero block', async () => {
  const short = Buffer.concat([a, END_OF_ARCHIVE.subarray(0, 1023)]);
  assert.deepEqual(await names(short, 'lenient'), ['a']);
  await assert.rejects(names(short, 'go'), (e: unknown) => e instanceof InvalidLayerError && /truncated archive at byte 1536/.test(e.message));
  const hidden = Buffer.concat([a, END_OF_ARCHIVE.subarray(0, 512), b, END_OF_ARCHIVE]);
  assert.deepEqual(await names(hidden, 'lenient'), ['a']);
  await assert.rejects(names(hidden, 'go'), (e: unknown) => e instanceof InvalidLayerError && /zero block is followed by a non-zero block/.test(e.message));
  // Part of the padding: truncated in both.
  await assert.rejects(names(Buffer.concat([a, b.subarray(0, 512 + 100)]), 'go'), InvalidLayerError);
  // A short body fails in both.
  for (const end of ['lenient', 'go'] as const) await assert.rejects(names(Buffer.concat([a, b.subarray(0, 514)]), end), InvalidLayerError);
});

test('GNU tar archives (10 KiB records) read the same in both modes', async (t) => {
  const dir = tmp(t, 'tar-end-');
  mkdirSync(join(dir, 'src/test'), { recursive: true });
  writeFileSync(join(dir, 'src/test/foo'), 'Hi');
  execFileSync('tar', ['-cf', join(dir, 'x.tar'), '-C', join(dir, 'src'), 'test']);
  const bytes = readFileSync(join(dir, 'x.tar'));
  assert.equal(bytes.length % 10240, 0);
  for (const end of ['lenient', 'go'] as const) assert.deepEqual(await names(bytes, end), ['test/', 'test/foo']);
});
