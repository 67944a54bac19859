import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { randomBytesSeeded, textSeeded } from '../../bench/workloads.js';
import { SegmentSpeculator, chainReuse, type SegmentReuse } from '../../layer-store/layer/index.js';
import { packToFile, tmp } from './layer-test-kit.js';
import { waitUntilSettled } from '../helpers/settled-file.js';

const MB = 1 << 20;
const sh = promisify(execFile);

/** A file like W3's: random MiBs then text MiBs (and a short tail). */
function bigFile(i: number, mib: number): Buffer {
  return Buffer.concat([randomBytesSeeded(mib * MB, 100 + i), textSeeded(mib * MB + 777, 200 + i)]);
}

test('segments compressed while another process writes the tree are reused by the pack, which makes the same blob', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(join(src, 'data'), { recursive: true });
  const inputs = join(d, 'in');
  mkdirSync(inputs);
  for (let i = 0; i < 6; i++) writeFileSync(join(inputs, `f${i}`), bigFile(i, 2));
  writeFileSync(join(src, 'small.txt'), 'a small file, packed but never speculated\n');

  const spec = SegmentSpeculator.start(src, { file: join(d, 'spec'), level: 6, intervalMs: 30 });
  t.after(() => spec.close());
  // Another process writes the big files one by one, pausing between them (as a RUN step does).
  await sh('sh', ['-c', `for i in 0 1 2 3 4 5; do cat ${inputs}/f$i > ${src}/data/chunk$i; sleep 0.15; done; sleep 0.6`]);
  const s = await spec.finish();
  assert.ok(s, 'something was speculated');
  // 6 files of 4 MiB + 777 bytes: 5 segments each (fewer on a machine too busy to keep up).
  assert.ok(s.segments >= 10, `segments speculated: ${s.segments}`);

  const plain = await packToFile(src, join(d, 'plain.tgz'), { xattrs: false }, true);
  const reused = await packToFile(src, join(d, 'reused.tgz'), { xattrs: false, reuse: s.reuse }, true);
  assert.equal(reused.digest, plain.digest);
  assert.equal(reused.diffId, plain.diffId);
  assert.ok(readFileSync(join(d, 'reused.tgz')).equals(readFileSync(join(d, 'plain.tgz'))));
  assert.ok(reused.reused >= s.segments, `reused ${reused.reused} of ${plain.segments!.segments.length} (speculated ${s.segments})`);
  assert.ok(existsSync(join(d, 'spec')));
  await s.close();
  assert.equal(existsSync(join(d, 'spec')), false, 'close removes the scratch file');
});

test('a file changed after it was speculated (same size, same mtime) is compressed afresh: the blob is still the plain one', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  const f = join(src, 'big.bin');
  writeFileSync(f, bigFile(1, 2));
  writeFileSync(join(src, 'other.bin'), bigFile(2, 1));
  const spec = SegmentSpeculator.start(src, { file: join(d, 'spec'), level: 6, intervalMs: 20 });
  t.after(() => spec.close());
  // Two walks see both files hold still and queue all their segments; wait until they are written (the random
  // MiBs alone are 3 MiB stored) and the scratch file stops growing.
  await waitUntilSettled(join(d, 'spec'), 3 * MB);
  // Rewrite MiB 1 and MiB 3 of big.bin in place and put its times back: stat cannot tell, the bytes can.
  const st = statSync(f);
  const data = readFileSync(f);
  data.fill(0x41, MB, 2 * MB);
  data.fill(0x42, 3 * MB, 3 * MB + 100);
  writeFileSync(f, data);
  utimesSync(f, st.atime, st.mtime);
  const s = await spec.finish();
  assert.ok(s);

  const plain = await packToFile(src, join(d, 'plain.tgz'), { xattrs: false });
  const withSpec = await packToFile(src, join(d, 'spec.tgz'), { xattrs: false, reuse: s.reuse });
  assert.equal(withSpec.digest, plain.digest);
  assert.ok(withSpec.compressedSegments >= 2, `the two changed MiBs are compressed (compressed ${withSpec.compressedSegments})`);
  assert.ok(withSpec.reused >= 4, `the unchanged ones are reused (reused ${withSpec.reused})`);
  await s.close();
});

test('nothing to speculate: finish returns undefined and leaves no scratch file; close is idempotent', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'small'), 'x'.repeat(1000));
  const spec = SegmentSpeculator.start(src, { file: join(d, 'spec'), level: 6, intervalMs: 10 });
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(await spec.finish(), undefined);
  assert.equal(existsSync(join(d, 'spec')), false);
  await spec.close();
  await spec.close();
});

test('chainReuse offers both sources: the second source\'s segments are read at their own offsets', async () => {
  const blobA = Buffer.from('0123456789' + 'AAAA' + 'BBBBBB');
  const blobB = Buffer.from('0123456789' + 'CCC' + 'DDDDD');
  const level = 6;
  const zlibv = process.versions.zlib;
  const src = (blob: Buffer, clens: number[]): SegmentReuse => ({
    index: { v: 2, zlib: zlibv, level, segments: clens.map((clen, i) => ({ ulen: 100 + i, crc: i, clen })) },
    read: (o, l) => Promise.resolve(Buffer.from(blob.subarray(o, o + l))),
  });
  const a = src(blobA, [4, 6]);
  const b = src(blobB, [3, 5]);
  const both = chainReuse(a, b)!;
  assert.equal(both.index.segments.length, 4);
  // Offsets as the encoder computes them: 10, then the sum of the earlier clens.
  assert.equal((await both.read(10, 4)).toString(), 'AAAA');
  assert.equal((await both.read(14, 6)).toString(), 'BBBBBB');
  assert.equal((await both.read(20, 3)).toString(), 'CCC');
  assert.equal((await both.read(23, 5)).toString(), 'DDDDD');
  assert.equal(chainReuse(undefined, b), b);
  assert.equal(chainReuse(a, undefined), a);
  // An index the encoder would not take (another level, or an older version) is left out.
  assert.equal(chainReuse(a, { ...b, index: { ...b.index, level: 1 } }), a);
  assert.equal(chainReuse({ ...a, index: { ...a.index, v: 1 as 2 } }, b), b);
});
