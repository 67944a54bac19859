import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SegmentIndex } from '../../layer-store/layer/index.js';
import { packToFile, tmp, sh, reuseOf } from './layer-test-kit.js';

/** Writes `n` files of seeded, compressible text in nested directories. */
function textTree(root: string, n: number): void {
  let x = 777;
  const words = ['const', 'return', 'function', 'import', 'export', 'value', 'layer', 'segment', '=>', '{', '}', ';\n'];
  for (let i = 0; i < n; i++) {
    const rel = `pkg${i % 20}/lib/f${i}.js`;
    mkdirSync(join(root, rel, '..'), { recursive: true });
    let s = '';
    const len = 800 + (i * 53) % 6000;
    while (s.length < len) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; s += `${words[x % words.length]} `; }
    writeFileSync(join(root, rel), s);
  }
}


test('after a one-file edit, a pack reusing the previous blob copies all but the changed segment and equals a fresh pack', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  textTree(src, 2000);
  const first = await packToFile(src, join(d, 'first.tgz'), { xattrs: false });
  assert.ok(first.segments);
  const n = first.segments.segments.length;
  assert.ok(n >= 10, `2,000 files give many segments (got ${n})`);

  appendFileSync(join(src, 'pkg7/lib/f1007.js'), 'console.log("edited");\n');
  const reused = await packToFile(src, join(d, 'reused.tgz'), { xattrs: false, reuse: await reuseOf(t, join(d, 'first.tgz'), first.segments) });
  const fresh = await packToFile(src, join(d, 'fresh.tgz'), { xattrs: false });

  assert.notEqual(fresh.diffId, first.diffId, 'the edit changed the tar');
  assert.equal(reused.digest, fresh.digest, 'reuse gives the same blob as compressing everything');
  assert.equal(reused.diffId, fresh.diffId);
  // The same segments; only the fingerprints (which files a segment holds, segment-files.ts) may differ: a file
  // written just before a pack gets none in that pack.
  const noFp = (ix: SegmentIndex | undefined) => ix?.segments.map(({ ulen, crc, clen }) => ({ ulen, crc, clen }));
  assert.deepEqual(noFp(reused.segments), noFp(fresh.segments));
  assert.equal(sh(`cmp ${join(d, 'reused.tgz')} ${join(d, 'fresh.tgz')} && echo same`).trim(), 'same');
  assert.equal(fresh.reused, 0);
  assert.ok(reused.compressedSegments >= 1 && reused.compressedSegments <= 2, `only the edited segment is compressed (got ${reused.compressedSegments})`);
  assert.equal(reused.reused + reused.compressedSegments, reused.segments?.segments.length);
  assert.equal(sh(`gzip -t ${join(d, 'reused.tgz')} && gunzip -c ${join(d, 'reused.tgz')} | sha256sum`).slice(0, 64), reused.diffId.slice(7));
  assert.match(sh(`tar -xzOf ${join(d, 'reused.tgz')} pkg7/lib/f1007.js`), /console\.log\("edited"\);\n$/);
});
