/**
 * deflate-runs.ts's raw/deflate decision per 64 KiB block is the header's rule, both for a process's first blocks
 * (summed with Math.log2 directly) and after the log2 table is made (own file: a fresh process, so the first
 * calls here really come before the table).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomBytesSeeded, textSeeded } from '../../bench/workloads.js';
import { segmentRuns, PROBE_BLOCK } from '../../layer-store/layer/deflate-runs.js';
/** The header's rule, computed here on its own: order-0 entropy of every 4th byte of a 64 KiB block ≥ 7.9 bits. */
function randomByTheRule(b: Buffer): boolean {
  const counts = new Array<number>(256).fill(0);
  for (let i = 0; i < b.length; i += 4) counts[b[i]!]!++;
  const n = b.length / 4;
  let h = 0;
  for (const c of counts) if (c > 0) h -= (c / n) * Math.log2(c / n);
  return h >= 7.9;
}

test('the raw/deflate decision is the rule\'s for every block, before and after the log2 table is made (the first 63 blocks of a process sum Math.log2 directly)', () => {
  // 160 blocks cycling through random, text, and bytes whose entropy lies near the 7.9-bit line either way.
  const blocks: Buffer[] = [];
  for (let i = 0; i < 160; i++) {
    const kind = i % 4;
    if (kind === 0) blocks.push(randomBytesSeeded(PROBE_BLOCK, 1000 + i));
    else if (kind === 1) blocks.push(textSeeded(PROBE_BLOCK, 2000 + i));
    else {
      // Random bytes over 256 - 20k values (k = 1..) or with every 7th byte zeroed: close to the line.
      const b = randomBytesSeeded(PROBE_BLOCK, 3000 + i);
      if (kind === 2) for (let j = 0; j < b.length; j++) b[j] = b[j]! % (256 - 8 * ((i >> 2) % 8));
      else for (let j = 0; j < b.length; j += 7 * ((i >> 2) % 3 + 1)) b[j] = 0;
      blocks.push(b);
    }
  }
  const expected = blocks.map(randomByTheRule);
  assert.ok(expected.filter(Boolean).length > 40 && expected.filter((x) => !x).length > 40, 'both kinds of block');
  // One block per call first (a fresh process's first blocks), then whole segments.
  const one = blocks.map((b) => segmentRuns(Buffer.concat([b, Buffer.alloc(1)]))[0]!.raw);
  assert.deepEqual(one, expected);
  const runs = segmentRuns(Buffer.concat(blocks));
  const got: boolean[] = [];
  for (const r of runs) for (let off = r.start; off < r.end; off += PROBE_BLOCK) got.push(r.raw);
  assert.deepEqual(got, expected);
});
