import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packToFile, tmp, sh } from './layer-test-kit.js';

test('a 5 MiB file is cut into ~1 MiB segments and the layer still reads back exactly', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(join(src, 'data'), { recursive: true });
  // Not a multiple of 1 MiB, half random (incompressible) and half text.
  const big = Buffer.concat([randomBytes(5 * 1024 * 1024 / 2), Buffer.from('line of text\n'.repeat(202_000))]).subarray(0, 5 * 1024 * 1024 + 777);
  writeFileSync(join(src, 'data/big.bin'), big);
  writeFileSync(join(src, 'data/small.txt'), 'after the big file\n');
  writeFileSync(join(src, 'a.txt'), 'before the big file\n');
  const a = await packToFile(src, join(d, 'a.tgz'), { xattrs: false });
  const segs = a.segments!.segments;
  assert.ok(segs.length >= 6, `header+1 MiB, four 1 MiB data segments and the rest (got ${segs.length})`);
  assert.ok(segs.every((s) => s.ulen <= (1 << 20) + 4096), 'no segment is much over 1 MiB');
  assert.equal(segs.filter((s) => s.ulen === 1 << 20).length, 4, 'the data segments after the first are exactly 1 MiB');

  sh(`gzip -t ${join(d, 'a.tgz')}`);
  assert.equal(sh(`gunzip -c ${join(d, 'a.tgz')} | sha256sum`).slice(0, 64), a.diffId.slice(7));
  const out = join(d, 'out');
  mkdirSync(out);
  sh(`tar -xzf ${join(d, 'a.tgz')} -C ${out}`);
  assert.ok(readFileSync(join(out, 'data/big.bin')).equals(big));
  assert.equal(readFileSync(join(out, 'data/small.txt'), 'utf8'), 'after the big file\n');

  // Reusing its own blob: every segment verifies and is copied.
  const blob = readFileSync(join(d, 'a.tgz'));
  const b = await packToFile(src, join(d, 'b.tgz'), {
    xattrs: false,
    reuse: { index: a.segments!, read: (o, l) => Promise.resolve(Buffer.from(blob.subarray(o, o + l))) },
  });
  assert.equal(b.digest, a.digest);
  assert.equal(b.reused, segs.length);
});
