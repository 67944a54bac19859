import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SegmentIndex, SegmentReuse } from '../../layer-store/layer/index.js';
import { packToFile, tmp } from './layer-test-kit.js';

function reuseOf(blob: Buffer, index: SegmentIndex): SegmentReuse {
  return { index, read: (offset, length) => Promise.resolve(Buffer.from(blob.subarray(offset, offset + length))) };
}

test('a reuse index written at another level or by another zlib version reuses nothing', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  for (let i = 0; i < 400; i++) {
    mkdirSync(join(src, `d${i % 5}`), { recursive: true });
    writeFileSync(join(src, `d${i % 5}/f${i}.txt`), `file ${i}\n`.repeat(50 + i));
  }
  const six = await packToFile(src, join(d, 'six.tgz'), { xattrs: false });
  const ix = six.segments!;
  const blob = readFileSync(join(d, 'six.tgz'));
  assert.ok(ix.segments.length >= 3);

  // Same level, same zlib: everything is reused (the control: proves the source itself is usable).
  const same = await packToFile(src, join(d, 'same.tgz'), { xattrs: false, reuse: reuseOf(blob, ix) });
  assert.equal(same.reused, ix.segments.length);
  assert.equal(same.compressedSegments, 0);
  assert.equal(same.digest, six.digest);

  // Level 9 with a level-6 index: the level-6 bytes inflate correctly but are not what level 9 writes.
  const nine = await packToFile(src, join(d, 'nine.tgz'), { xattrs: false, level: 9, reuse: reuseOf(blob, ix) });
  const nineFresh = await packToFile(src, join(d, 'nine-fresh.tgz'), { xattrs: false, level: 9 });
  assert.equal(nine.reused, 0);
  assert.equal(nine.digest, nineFresh.digest);

  // An index claiming another level, or another zlib version, for the same bytes.
  for (const other of [{ ...ix, level: 9 }, { ...ix, zlib: '1.2.13' }]) {
    const r = await packToFile(src, join(d, 'o.tgz'), { xattrs: false, reuse: reuseOf(blob, other) });
    assert.equal(r.reused, 0, JSON.stringify({ level: other.level, zlib: other.zlib }));
    assert.equal(r.digest, six.digest);
  }
});
