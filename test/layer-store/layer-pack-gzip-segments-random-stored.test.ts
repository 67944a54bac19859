import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import zlib from 'node:zlib';
import { randomBytesSeeded, textSeeded } from '../../bench/workloads.js';
import { crc32Combine } from '../../layer-store/layer/gzip-segments.js';
import { segmentRuns, storedBlocks, PROBE_BLOCK } from '../../layer-store/layer/deflate-runs.js';
import type { SegmentIndex } from '../../layer-store/layer/index.js';
import { packToFile, sh, tmp } from './layer-test-kit.js';

const MB = 1 << 20;

test('random 64 KiB blocks are stored, text around them deflated: the layer is as small as gzip -6 makes it and every reader takes it', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  // Like the benchmark's W3 chunk: 2 MiB random then 2 MiB text, twice.
  const chunk = Buffer.concat([randomBytesSeeded(2 * MB, 7), textSeeded(2 * MB, 8)]);
  writeFileSync(join(src, 'a.bin'), chunk);
  writeFileSync(join(src, 'b.bin'), Buffer.concat([textSeeded(100_000, 9), randomBytesSeeded(3 * MB + 123, 10)]));
  const a = await packToFile(src, join(d, 'a.tgz'), { xattrs: false });
  const file = join(d, 'a.tgz');
  assert.equal(a.segments!.v, 2);

  // The random bytes are stored: the blob is within a few KiB of the random bytes plus gzip -6 of the text.
  const tar = zlib.gunzipSync(readFileSync(file));
  const gz6 = zlib.gzipSync(tar, { level: 6 }).length;
  assert.ok(a.size <= gz6 * 1.002 + 4096, `blob ${a.size} vs zlib gzip -6 ${gz6}`);
  assert.ok(a.size >= 5 * MB, 'the random part is in it');

  // GNU gzip, GNU tar, Python's zlib and the diffID agree.
  sh(`gzip -t ${file}`);
  assert.equal(sh(`gunzip -c ${file} | sha256sum`).slice(0, 64), a.diffId.slice(7));
  const out = join(d, 'out');
  mkdirSync(out);
  sh(`tar -xzf ${file} -C ${out}`);
  assert.ok(readFileSync(join(out, 'a.bin')).equals(chunk));
  assert.equal(sh(`python3 -c "import gzip,sys,hashlib; print(hashlib.sha256(gzip.open(sys.argv[1]).read()).hexdigest())" ${file}`).trim(), a.diffId.slice(7));

  // Deterministic, and its own blob is reused segment for segment.
  const again = await packToFile(src, join(d, 'again.tgz'), { xattrs: false });
  assert.equal(again.digest, a.digest);
  const blob = readFileSync(file);
  const reused = await packToFile(src, join(d, 'r.tgz'), { xattrs: false, reuse: { index: a.segments!, read: (o, l) => Promise.resolve(Buffer.from(blob.subarray(o, o + l))) } });
  assert.equal(reused.digest, a.digest);
  assert.equal(reused.reused, a.segments!.segments.length);

  // An index of the older format (v1: every segment deflated whole) is never reused.
  const v1 = { ...a.segments!, v: 1 } as unknown as SegmentIndex;
  const old = await packToFile(src, join(d, 'o.tgz'), { xattrs: false, reuse: { index: v1, read: (o, l) => Promise.resolve(Buffer.from(blob.subarray(o, o + l))) } });
  assert.equal(old.reused, 0);
  assert.equal(old.digest, a.digest);
});

test('a text-only segment is one deflate run (the bytes of a whole-segment deflate), random blocks become stored runs', () => {
  const text = textSeeded(4 * MB, 1);
  assert.deepEqual(segmentRuns(text), [{ start: 0, end: text.length, raw: false }]);
  const mixed = Buffer.concat([textSeeded(3 * PROBE_BLOCK, 2), randomBytesSeeded(2 * PROBE_BLOCK, 3), textSeeded(1000, 4)]);
  assert.deepEqual(segmentRuns(mixed), [
    { start: 0, end: 3 * PROBE_BLOCK, raw: false },
    { start: 3 * PROBE_BLOCK, end: 5 * PROBE_BLOCK, raw: true },
    { start: 5 * PROBE_BLOCK, end: mixed.length, raw: false },
  ]);
  // A periodic block (every value seen equally often, but only 64 of them among the samples) is deflated.
  const pattern = Buffer.alloc(PROBE_BLOCK);
  for (let i = 0; i < pattern.length; i++) pattern[i] = (i * 37) & 0xff;
  assert.equal(segmentRuns(Buffer.concat([pattern, pattern]))[0]!.raw, false);

  const data = randomBytesSeeded(200_000, 5);
  const stored = storedBlocks(data);
  assert.equal(stored.length, data.length + 5 * 4);
  assert.ok(zlib.inflateRawSync(Buffer.concat([stored, Buffer.from([0x03, 0x00])])).equals(data));
});

test('crc32Combine gives the CRC-32 of the concatenation', () => {
  for (const [la, lb] of [[0, 5], [1, 1], [1000, 65_537], [3 * MB + 7, MB]] as const) {
    const a = randomBytesSeeded(la, la + 1);
    const b = randomBytesSeeded(lb, lb + 2);
    assert.equal(crc32Combine(zlib.crc32(a), zlib.crc32(b), b.length), zlib.crc32(Buffer.concat([a, b])), `${la}+${lb}`);
  }
  // Many lengths (every bit pattern of the length's low bits): one buffer, cut at seeded places.
  const all = randomBytesSeeded(300_000, 77);
  let seed = 12345;
  for (let i = 0; i < 200; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const cut = seed % all.length;
    const a = all.subarray(0, cut);
    const b = all.subarray(cut, Math.min(all.length, cut + (seed % 70_000) + 1));
    assert.equal(crc32Combine(zlib.crc32(a), zlib.crc32(b), b.length), zlib.crc32(Buffer.concat([a, b])), `${a.length}+${b.length}`);
  }
});
