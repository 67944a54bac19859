import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { randomBytesSeeded, textSeeded } from '../../bench/workloads.js';
import { encodeSegmentRuns, verifyEncoded, type EncodedRun } from '../../layer-store/layer/deflate-runs.js';
import { SegmentSpeculator } from '../../layer-store/layer/index.js';
import { packToFile, tmp } from './layer-test-kit.js';
import { waitUntilSettled } from '../helpers/settled-file.js';

const MB = 1 << 20;

/** A segment like W3's first: a header-ish text start, random bytes, then text (so it has all three kinds of run). */
function mixedSegment(): Buffer {
  return Buffer.concat([textSeeded(70_000, 1), randomBytesSeeded(300_000, 2), textSeeded(MB - 370_000 + 5, 3)]);
}

test('verifyEncoded accepts an encoded segment only against exactly its bytes, whatever its run list claims', async () => {
  const seg = mixedSegment();
  const { bytes, runs } = await encodeSegmentRuns(seg, 6);
  assert.ok(runs.some((r) => r.raw) && runs.some((r) => !r.raw), 'stored and deflated runs');
  assert.equal(verifyEncoded(bytes, runs, seg), true);
  // What the whole segment inflates to (as any gzip reader sees it) is the segment.
  assert.ok(zlib.inflateRawSync(Buffer.concat([bytes, Buffer.from([3, 0])])).equals(seg));

  const flip = (b: Buffer, at: number): Buffer => { const c = Buffer.from(b); c[at] = c[at]! ^ 1; return c; };
  const rawStart = runs.findIndex((r) => r.raw);
  let u = 0;
  for (let i = 0; i < rawStart; i++) u += runs[i]!.ulen;
  // One byte of the tar changed in a stored run (in its middle, far from any probe), or in a deflated run.
  assert.equal(verifyEncoded(bytes, runs, flip(seg, u + 150_000)), false, 'a changed byte in a stored run');
  assert.equal(verifyEncoded(bytes, runs, flip(seg, 20_000)), false, 'a changed byte in a deflated run');
  assert.equal(verifyEncoded(bytes, runs, flip(seg, seg.length - 1)), false, 'the last byte');
  assert.equal(verifyEncoded(bytes, runs, seg.subarray(0, seg.length - 1)), false, 'a shorter segment');
  // Damaged deflate bytes, or a run list that does not describe them, never pass.
  assert.equal(verifyEncoded(bytes.subarray(0, bytes.length - 1), runs, seg), false, 'cut short');
  let c = 0;
  for (let i = 0; i < rawStart; i++) c += runs[i]!.clen;
  assert.equal(verifyEncoded(flip(bytes, c + 3), runs, seg), false, 'a stored block whose NLEN is wrong');
  assert.equal(verifyEncoded(flip(bytes, c + 5000), runs, seg), false, 'a stored payload byte');
  const relabel: EncodedRun[] = runs.map((r, i) => (i === rawStart ? { ...r, raw: false } : r));
  assert.equal(verifyEncoded(bytes, relabel, seg), false, 'a stored run called deflated');
  const moved: EncodedRun[] = runs.map((r, i) => (i === rawStart ? { ...r, ulen: r.ulen - 1 } : i === rawStart + 1 ? { ...r, ulen: r.ulen + 1 } : r));
  assert.equal(verifyEncoded(bytes, moved, seg), false, 'a run boundary moved by one byte');
  // A coarser list is still a true check: the whole segment, inflated at once, is the segment.
  assert.equal(verifyEncoded(bytes, [{ ulen: seg.length, clen: bytes.length, raw: false }], seg), true, 'one deflate run over it all');
  assert.equal(verifyEncoded(bytes, [{ ulen: seg.length, clen: bytes.length, raw: false }], flip(seg, u + 150_000)), false);
  assert.equal(verifyEncoded(bytes, [], seg), false, 'no runs');

  // A deflated run that ends the stream (a final block) is not interchangeable inside a member.
  const text = textSeeded(200_000, 4);
  const finalRun = zlib.deflateRawSync(text, { level: 6 });
  const synced = zlib.deflateRawSync(text, { level: 6, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.equal(verifyEncoded(synced, [{ ulen: text.length, clen: synced.length, raw: false }], text), true);
  assert.equal(verifyEncoded(finalRun, [{ ulen: text.length, clen: finalRun.length, raw: false }], text), false);
  const finalSynced = Buffer.concat([zlib.deflateRawSync(text, { level: 6, finishFlush: zlib.constants.Z_FULL_FLUSH }).subarray(0, -5), Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff])]);
  assert.equal(verifyEncoded(finalSynced, [{ ulen: text.length, clen: finalSynced.length, raw: false }], text), false, 'a final empty stored block at the end');
});

test('a speculated MiB changed where its probe does not look is found by the probe, refused by the check and compressed afresh', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  const f = join(src, 'big.bin');
  // 2 MiB random then 2 MiB text, as W3's files.
  const data = Buffer.concat([randomBytesSeeded(2 * MB, 11), textSeeded(2 * MB, 12)]);
  writeFileSync(f, data);
  const spec = SegmentSpeculator.start(src, { file: join(d, 'spec'), level: 6, intervalMs: 20 });
  t.after(() => spec.close());
  await waitUntilSettled(join(d, 'spec'), 2 * MB);
  // One byte in the middle of the random MiB 1 and of the text MiB 3 (the probe reads 4 KiB at each MiB's start,
  // middle and end), with the times put back.
  const st = statSync(f);
  const changed = Buffer.from(data);
  changed[MB + 100_000] = changed[MB + 100_000]! ^ 0xff;
  changed[3 * MB + 300_000] = 0x21;
  writeFileSync(f, changed);
  utimesSync(f, st.atime, st.mtime);
  const s = await spec.finish();
  assert.ok(s?.reuse.find, 'speculated segments can be found by their bytes');

  const mib = (b: Buffer, k: number): Buffer => b.subarray(k * MB, (k + 1) * MB);
  // The old bytes of MiB 1 and 3 are there (their probe is the new bytes' probe); the new bytes are refused.
  assert.ok(await s.reuse.find(mib(data, 1)), 'MiB 1 as it was speculated');
  assert.ok(await s.reuse.find(mib(data, 3)), 'MiB 3 as it was speculated');
  assert.equal(await s.reuse.find(mib(changed, 1)), undefined);
  assert.equal(await s.reuse.find(mib(changed, 3)), undefined);
  // An unchanged MiB is found, with the CRC the pack would compute.
  const found = await s.reuse.find(mib(changed, 2));
  assert.ok(found);
  assert.equal(found.crc, zlib.crc32(mib(changed, 2)));

  const plain = await packToFile(src, join(d, 'plain.tgz'), { xattrs: false });
  const withSpec = await packToFile(src, join(d, 'spec.tgz'), { xattrs: false, reuse: s.reuse });
  assert.equal(withSpec.digest, plain.digest);
  assert.ok(readFileSync(join(d, 'spec.tgz')).equals(readFileSync(join(d, 'plain.tgz'))));
  assert.ok(withSpec.compressedSegments >= 2, `the two changed MiBs are compressed (compressed ${withSpec.compressedSegments})`);
  assert.ok(withSpec.reused >= 2, `MiB 2 and the tail are reused (reused ${withSpec.reused})`);
  await s.close();
});
