import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packToFile, tmp, sh } from './layer-test-kit.js';

/** Writes `n` files of seeded, compressible text in nested directories; returns their tar names. */
function textTree(root: string, n: number): string[] {
  let x = 12345;
  const words = ['const', 'return', 'function', 'import', 'export', 'value', 'layer', 'segment', '=>', '{', '}', ';\n'];
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const rel = `d${i % 13}/e${i % 7}/f${i}.txt`;
    mkdirSync(join(root, rel, '..'), { recursive: true });
    let s = '';
    const len = 500 + (i * 37) % 3000;
    while (s.length < len) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; s += `${words[x % words.length]} `; }
    writeFileSync(join(root, rel), s);
    names.push(rel);
  }
  return names;
}

test('a segmented gzip layer passes gzip -t, GNU tar lists it, gunzip gives the diffID, and a repack is identical', async (t) => {
  const d = tmp(t);
  const src = join(d, 'src');
  mkdirSync(src);
  const names = textTree(src, 600);
  const blob = join(d, 'a.tgz');
  const a = await packToFile(src, blob, { xattrs: false });
  assert.ok(a.segments, 'gzip packs carry a segment index');
  assert.ok(a.segments.segments.length > 3, `600 entries are cut into several segments (got ${a.segments.segments.length})`);
  assert.equal(a.segments.zlib, process.versions.zlib);
  assert.equal(a.segments.level, 6);
  assert.equal(a.compressedSegments, a.segments.segments.length);
  assert.equal(a.reused, 0);

  // The index describes the blob: header + every segment's bytes + final block (2) + trailer (8).
  const file = readFileSync(blob);
  assert.equal(file.length, a.size);
  assert.equal(10 + a.segments.segments.reduce((s, g) => s + g.clen, 0) + 2 + 8, a.size);
  assert.equal(a.segments.segments.reduce((s, g) => s + g.ulen, 0), a.uncompressedSize);
  assert.deepEqual([...file.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3], 'gzip header as zlib writes it for level 6');

  sh(`gzip -t ${blob}`);
  const listed = sh(`tar -tzf ${blob}`).trim().split('\n').filter((l) => !l.endsWith('/'));
  assert.deepEqual(listed.sort(), [...names].sort());
  assert.equal(sh(`gunzip -c ${blob} | sha256sum`).slice(0, 64), a.diffId.slice(7));
  assert.equal(sh(`sha256sum < ${blob}`).slice(0, 64), a.digest.slice(7));
  // Python's gzip module (the system zlib, strict about CRC and length) reads the same bytes.
  assert.equal(sh(`python3 -c "import gzip,hashlib,sys; print(hashlib.sha256(gzip.decompress(open(sys.argv[1],'rb').read())).hexdigest())" ${blob}`).trim(), a.diffId.slice(7));

  const b = await packToFile(src, join(d, 'b.tgz'), { xattrs: false });
  assert.equal(b.digest, a.digest);
  // Fingerprints (segment-files.ts) may differ: a file written just before a pack gets none in that pack.
  const noFp = (ix: typeof a.segments | undefined) => ix && { ...ix, segments: ix.segments.map(({ ulen, crc, clen }) => ({ ulen, crc, clen })) };
  assert.deepEqual(noFp(b.segments), noFp(a.segments));

  // Other levels write the XFL byte zlib writes (2 for 9, 4 for 1) and still read back.
  for (const [level, xfl] of [[9, 2], [1, 4]] as const) {
    const f = join(d, `l${level}.tgz`);
    const r = await packToFile(src, f, { xattrs: false, level });
    assert.equal(readFileSync(f)[8], xfl);
    assert.equal(r.segments?.level, level);
    assert.equal(sh(`gzip -t ${f} && gunzip -c ${f} | sha256sum`).slice(0, 64), a.diffId.slice(7));
  }
});
