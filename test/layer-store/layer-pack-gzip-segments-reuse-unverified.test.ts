import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import type { SegmentIndex, SegmentReuse } from '../../layer-store/layer/index.js';
import { packToFile, tmp, sh } from './layer-test-kit.js';

/** Writes `n` files of seeded, compressible text. */
function textTree(root: string, n: number): void {
  let x = 4242;
  const words = ['let', 'return', 'async', 'await', 'export', 'value', 'blob', 'digest', '=>', '(', ')', ';\n'];
  for (let i = 0; i < n; i++) {
    const rel = `m${i % 9}/f${i}.ts`;
    mkdirSync(join(root, rel, '..'), { recursive: true });
    let s = '';
    const len = 600 + (i * 71) % 5000;
    while (s.length < len) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; s += `${words[x % words.length]} `; }
    writeFileSync(join(root, rel), s);
  }
}

/** A reuse source over an in-memory old blob. */
function reuseOf(blob: Buffer, index: SegmentIndex): SegmentReuse {
  return { index, read: (offset, length) => Promise.resolve(Buffer.from(blob.subarray(offset, offset + length))) };
}

/** Start offset of each segment's deflate bytes in a blob described by `ix`. */
function offsets(ix: SegmentIndex): number[] {
  const out: number[] = [];
  let o = 10;
  for (const s of ix.segments) { out.push(o); o += s.clen; }
  return out;
}

test('reuse bytes that do not verify (a flipped byte, a final block inside, a failing read) are compressed fresh', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  textTree(src, 1500);
  const fresh = await packToFile(src, join(d, 'fresh.tgz'), { xattrs: false });
  const ix = fresh.segments!;
  const n = ix.segments.length;
  assert.ok(n >= 6, `several segments (got ${n})`);
  const good = readFileSync(join(d, 'fresh.tgz'));
  const starts = offsets(ix);

  // 1. One byte flipped in the middle of segment k: that segment is compressed again, the rest reused.
  const k = Math.floor(n / 2);
  const flipped = Buffer.from(good);
  flipped[starts[k]! + Math.floor(ix.segments[k]!.clen / 2)]! ^= 0x20;
  const a = await packToFile(src, join(d, 'a.tgz'), { xattrs: false, reuse: reuseOf(flipped, ix) });
  assert.equal(a.digest, fresh.digest);
  assert.equal(a.reused, n - 1);
  assert.equal(a.compressedSegments, 1);

  // 2. Segment k replaced by a deflate of the same bytes that ends in a FINAL block: it inflates to the same
  //    data, but would end the gzip member early. It must not be used.
  const tar = zlib.gunzipSync(good);
  let u = 0;
  for (let i = 0; i < k; i++) u += ix.segments[i]!.ulen;
  const segK = tar.subarray(u, u + ix.segments[k]!.ulen);
  // A final block followed by the sync-flush marker (00 00 ff ff), so it even ends like a real segment.
  const finalK = Buffer.concat([zlib.deflateRawSync(segK, { level: 6 }), Buffer.from([0, 0, 0xff, 0xff])]);
  assert.deepEqual(zlib.inflateRawSync(finalK, { finishFlush: zlib.constants.Z_SYNC_FLUSH }), segK, 'the substitute inflates to the same segment bytes');
  const forged = Buffer.concat([good.subarray(0, starts[k]), finalK, good.subarray(starts[k]! + ix.segments[k]!.clen)]);
  const forgedIx: SegmentIndex = { ...ix, segments: ix.segments.map((s, i) => (i === k ? { ...s, clen: finalK.length } : s)) };
  const b = await packToFile(src, join(d, 'b.tgz'), { xattrs: false, reuse: reuseOf(forged, forgedIx) });
  assert.equal(b.digest, fresh.digest);
  assert.equal(b.reused, n - 1);

  // 3. A read that fails, or returns short, means: compress fresh.
  const failing: SegmentReuse = { index: ix, read: () => Promise.reject(new Error('ENOENT: old blob is gone')) };
  const c = await packToFile(src, join(d, 'c.tgz'), { xattrs: false, reuse: failing });
  assert.equal(c.digest, fresh.digest);
  assert.equal(c.reused, 0);
  assert.equal(c.compressedSegments, n);
  const short: SegmentReuse = { index: ix, read: (o, l) => Promise.resolve(Buffer.from(good.subarray(o, o + l - 1))) };
  const e = await packToFile(src, join(d, 'e.tgz'), { xattrs: false, reuse: short });
  assert.equal(e.digest, fresh.digest);
  assert.equal(e.reused, 0);

  // 4. The whole old blob truncated to its first half: the second half is compressed fresh.
  const half = good.subarray(0, Math.floor(good.length / 2));
  const f = await packToFile(src, join(d, 'f.tgz'), { xattrs: false, reuse: reuseOf(half, ix) });
  assert.equal(f.digest, fresh.digest);
  assert.ok(f.reused > 0 && f.reused < n, `some reused (${f.reused} of ${n})`);
  sh(`gzip -t ${join(d, 'a.tgz')} ${join(d, 'b.tgz')} ${join(d, 'f.tgz')}`);
});
