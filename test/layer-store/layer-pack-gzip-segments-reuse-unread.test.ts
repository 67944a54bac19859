import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packToFile, tmp, reuseOf, settle } from './layer-test-kit.js';
import { textSeeded } from '../../bench/workloads.js';

/** Writes `n` files of seeded text in nested directories. */
function textTree(root: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const rel = `pkg${i % 20}/lib/f${i}.js`;
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), textSeeded(800 + (i * 53) % 6000, i));
  }
}



// segment-files.ts: a rebuilt layer takes each segment whose fingerprint (headers + file identities) matches the
// previous index from the previous blob, without reading its files. The blob must stay exactly a fresh pack's,
// also when a file changed in a way that keeps its size and mtime, and when the old blob is damaged.
test('a repack takes unchanged segments unread by their fingerprints, and still equals a fresh pack after same-size edits and a damaged old blob', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  textTree(src, 1500);
  const victim = join(src, 'pkg3/lib/f503.js');
  utimesSync(victim, 1_600_000_000, 1_600_000_000);
  await settle();
  const first = await packToFile(src, join(d, 'first.tgz'), { xattrs: false });
  const n = first.segments!.segments.length;
  assert.ok(first.segments!.segments.every((s) => typeof s.fp === 'string'), 'every segment of a settled tree has a fingerprint');

  // Same size, mtime put back: only the ctime tells. The segment must not be taken from the old blob.
  const before = statSync(victim);
  const bytes = readFileSync(victim);
  bytes[10] = bytes[10] === 0x41 ? 0x42 : 0x41;
  writeFileSync(victim, bytes);
  utimesSync(victim, 1_600_000_000, 1_600_000_000);
  const after = statSync(victim);
  assert.deepEqual([after.ino, after.size, after.mtimeMs], [before.ino, before.size, before.mtimeMs], 'only the ctime tells the edit');
  appendFileSync(join(src, 'pkg9/lib/f1009.js'), 'edited\n');
  await settle();
  const second = await packToFile(src, join(d, 'second.tgz'), { xattrs: false, reuse: await reuseOf(t, join(d, 'first.tgz'), first.segments!) });
  const fresh = await packToFile(src, join(d, 'fresh.tgz'), { xattrs: false });
  assert.equal(second.digest, fresh.digest, 'the same blob as a fresh pack');
  assert.equal(second.diffId, fresh.diffId);
  assert.notEqual(second.diffId, first.diffId);
  assert.ok(second.unread >= n - 4 && second.unread <= n - 2, `all but the two edited segments taken unread (${second.unread} of ${n})`);
  assert.equal(second.reused, second.unread, 'the edited segments were compressed, not taken');

  // A damaged old blob (a byte flipped inside a segment's deflate data): that segment is read from its files.
  const damaged = readFileSync(join(d, 'second.tgz'));
  const at = 10 + second.segments!.segments[0]!.clen + Math.floor(second.segments!.segments[1]!.clen / 2);
  damaged[at] = damaged[at]! ^ 0xff;
  writeFileSync(join(d, 'damaged.tgz'), damaged);
  const third = await packToFile(src, join(d, 'third.tgz'), { xattrs: false, reuse: await reuseOf(t, join(d, 'damaged.tgz'), second.segments!) });
  assert.equal(third.digest, fresh.digest, 'a damaged old blob costs a compression, never a wrong blob');
  assert.equal(third.unread, n - 1, 'every other segment still taken unread');

  // A file read within the racy margin of its ctime gives its segment no fingerprint (a write in the same clock
  // tick would not have changed the ctime); read later, it gets one.
  const small = join(d, 'small');
  mkdirSync(small);
  writeFileSync(join(small, 'a.txt'), 'just written\n');
  const racy = await packToFile(small, join(d, 'racy.tgz'), { xattrs: false });
  assert.deepEqual(racy.segments!.segments.map((s) => s.fp === undefined), [true], 'no fingerprint for a just-written file');
  await settle();
  const settled = await packToFile(small, join(d, 'settled.tgz'), { xattrs: false });
  assert.deepEqual(settled.segments!.segments.map((s) => typeof s.fp), ['string'], 'a fingerprint once it is older');
});
